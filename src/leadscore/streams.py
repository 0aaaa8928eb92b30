"""What every streaming query shares: triggers, exactly-once batch identity, progress logging, error messages."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import DataStreamWriter, StreamingQuery, StreamingQueryListener

from leadscore.errors import LeadscoreError

log = logging.getLogger("leadscore")
_USER_ERROR = re.compile(r"\[USER_RAISED_EXCEPTION\]\s*(.*?)\s*SQLSTATE", re.S)


def trigger(writer: DataStreamWriter, available_now: bool, seconds: float) -> DataStreamWriter:
    return writer.trigger(availableNow=True) if available_now else writer.trigger(processingTime=f"{seconds} seconds")


def user_error(error: BaseException) -> LeadscoreError | None:
    """The message a `raise_error` in a query raised (bad input named by file and line), if that is what failed.

    A task's failure arrives wrapped (a failed write, a failed stream): the message sits in the JVM cause chain.
    """
    messages, cause = [str(error)], getattr(error, "_origin", None)
    while cause is not None:
        messages.append(str(cause.getMessage()))
        cause = cause.getCause()
    for message in messages:
        if match := _USER_ERROR.search(message):
            return LeadscoreError(match.group(1))
    return None


def await_query(query: StreamingQuery) -> StreamingQuery:
    """Waits for an availableNow query; a bad-input failure becomes a LeadscoreError carrying its message."""
    try:
        query.awaitTermination()
    except StreamingQueryException as error:
        raise user_error(error) or error from None
    return query


class QueryIdentity:
    """The query's own id, read from its checkpoint: with the batch id it makes each write idempotent.

    A new checkpoint means a new query id, so a reset stream never has its batches skipped as already written.
    """

    def __init__(self, checkpoint: str):
        self.checkpoint = checkpoint
        self._id: str | None = None

    def app_id(self, spark: SparkSession) -> str:
        if self._id is None:
            self._id = spark.read.json(f"{self.checkpoint}/metadata").first()["id"]
        return self._id

    def idempotent_append(self, df: DataFrame, batch_id: int):
        """A writer whose commit Delta skips when this (query, batch) already committed to the table."""
        return df.write.mode("append").option("txnAppId", self.app_id(df.sparkSession)).option("txnVersion", batch_id)

    @contextmanager
    def idempotent_session(self, df: DataFrame, batch_id: int) -> Iterator[SparkSession]:
        """Delta's session settings that make a MERGE (or any write) in this batch idempotent, unset afterwards."""
        session = df.sparkSession
        session.conf.set("spark.databricks.delta.write.txnAppId", self.app_id(session))
        session.conf.set("spark.databricks.delta.write.txnVersion", str(batch_id))
        try:
            yield session
        finally:
            session.conf.unset("spark.databricks.delta.write.txnAppId")
            session.conf.unset("spark.databricks.delta.write.txnVersion")


class ProgressLog(StreamingQueryListener):
    """One log line per micro-batch: rows in, duration, and the query's observed metrics."""

    def onQueryStarted(self, event) -> None:
        log.info("%s: started", event.name)

    def onQueryProgress(self, event) -> None:
        progress = event.progress
        seconds = progress.durationMs.get("triggerExecution", 0) / 1000
        observed = {name: row.asDict() for name, row in (progress.observedMetrics or {}).items()}
        extra = " ".join(f"{k}={v}" for metrics in observed.values() for k, v in metrics.items())
        log.info(
            "%s: batch %d: %d input rows in %.2fs %s",
            progress.name,
            progress.batchId,
            progress.numInputRows,
            seconds,
            extra,
        )

    def onQueryIdle(self, event) -> None:
        pass

    def onQueryTerminated(self, event) -> None:
        if event.exception:
            log.info("query %s failed", event.id)


@contextmanager
def progress_logged(spark: SparkSession) -> Iterator[None]:
    """Logs the session's micro-batches while the block runs."""
    listener = ProgressLog()
    spark.streams.addListener(listener)
    try:
        yield
    finally:
        spark.streams.removeListener(listener)
