"""Starting and awaiting a streaming query: session settings it keeps, triggers, progress logging, error messages."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.errors import PySparkException, StreamingQueryException
from pyspark.sql import SparkSession
from pyspark.sql.streaming import DataStreamWriter, StreamingQuery, StreamingQueryListener
from pyspark.sql.streaming.listener import StreamingQueryProgress
from pyspark.sql.utils import is_remote

from leadscore.errors import LeadscoreError

log = logging.getLogger("leadscore")
RAISED = "USER_RAISED_EXCEPTION"  # the condition of SQL's raise_error, its text in `errorMessage`
_RAISED_TEXT = re.compile(rf"\[{RAISED}\]\s*(.*?)\s*SQLSTATE", re.S)


@contextmanager
def session_settings(spark: SparkSession, settings: dict[str, str]) -> Iterator[None]:
    """The settings in the session for the block, then each as it was before. A streaming query copies its
    session's settings when it starts, so a query started in the block keeps them for all its micro-batches while
    the session, and a query started after it, does not."""
    before = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def trigger(writer: DataStreamWriter, available_now: bool, seconds: float) -> DataStreamWriter:
    return writer.trigger(availableNow=True) if available_now else writer.trigger(processingTime=f"{seconds} seconds")


def user_error(error: BaseException) -> LeadscoreError | None:
    """The message a `raise_error` in a query raised (bad input named by file and line), if that is what failed.

    Read from Spark's error condition and its message parameters where Spark gives them: a batch job's failure
    (`score-batch`) is the raised error itself. A streaming query's failure gives text only, on a classic session as
    over Spark Connect: the error went through the query's Python `foreachBatch` function, which hands the JVM its
    message, not the exception; so its message is where the raised text is found.
    """
    if isinstance(error, PySparkException) and error.getCondition() == RAISED:
        return LeadscoreError(error.getMessageParameters()["errorMessage"])
    if match := _RAISED_TEXT.search(str(error)):
        return LeadscoreError(match.group(1))
    return None


def await_query(query: StreamingQuery) -> StreamingQuery:
    """Waits for an availableNow query; a bad-input failure becomes a LeadscoreError carrying its message."""
    try:
        query.awaitTermination()
    except StreamingQueryException as error:
        raise user_error(error) or error from None
    finally:
        if is_remote():  # no listener over Connect (progress_logged)
            for progress in query.recentProgress:
                log_progress(progress)
    return query


class ProgressLog(StreamingQueryListener):
    """One log line per micro-batch: rows in, duration, and the query's observed metrics."""

    def onQueryStarted(self, event) -> None:
        log.info("%s: started", event.name)

    def onQueryProgress(self, event) -> None:
        log_progress(event.progress)

    def onQueryIdle(self, event) -> None:
        pass

    def onQueryTerminated(self, event) -> None:
        if event.exception:
            log.info("query %s failed", event.id)


def log_progress(progress: StreamingQueryProgress) -> None:
    seconds = progress.durationMs.get("triggerExecution", 0) / 1000
    observed = {name: row.asDict() for name, row in (progress.observedMetrics or {}).items()}
    extra = " ".join(f"{k}={v}" for metrics in observed.values() for k, v in metrics.items())
    log.info("%s: batch %d: %d input rows in %.2fs %s", progress.name, progress.batchId, progress.numInputRows,
             seconds, extra)  # fmt: skip


@contextmanager
def progress_logged(spark: SparkSession) -> Iterator[None]:
    """Logs the session's micro-batches while the block runs.

    Over Spark Connect the listener is not used: removing it waits on its event stream from the server, which
    PySpark 4.0.1 can leave open for good (seen: an ingest that had finished, hung in `removeListener`);
    `await_query` logs the batches from the query's own progress there instead.
    """
    if is_remote():
        yield
        return
    listener = ProgressLog()
    spark.streams.addListener(listener)
    try:
        yield
    finally:
        spark.streams.removeListener(listener)
