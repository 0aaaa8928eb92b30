"""What every streaming query shares: triggers, exactly-once batch identity, progress logging, error messages."""

from __future__ import annotations

import fcntl
import logging
import os
import re
import socket
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pyspark.errors import PySparkException, StreamingQueryException
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql.streaming import DataStreamWriter, StreamingQuery, StreamingQueryListener
from pyspark.sql.streaming.listener import StreamingQueryProgress
from pyspark.sql.utils import is_remote

from leadscore import commit_tags
from leadscore.errors import LeadscoreError
from leadscore.tables import Table

log = logging.getLogger("leadscore")
USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
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


class BatchCommits:
    """Exactly-once writes of a foreachBatch query, without Delta's transaction-version lookup.

    Each commit carries its (query id, batch id) in Delta's commit `userMetadata`. Only the first micro-batch a run
    executes can be a replay (Spark re-runs the batch it had planned but not committed when it stopped), so only
    that batch asks each table's latest commits whether it already wrote there; every later batch just writes.
    Delta's own idempotent writes (`txnAppId`/`txnVersion`) would look the transaction up in the table's full state
    at every write, a Spark job over the log that costs seconds a micro-batch.
    """

    LOOKBACK = 20  # commits of a table searched for a replayed batch: its own writes are the latest ones

    def __init__(self, checkpoint: str):
        self.checkpoint = checkpoint
        self._id: str | None = None
        self._first_batch: int | None = None

    def query_id(self, spark: SparkSession) -> str:
        """The query's id, read from its checkpoint: the same across restarts, new with a new checkpoint."""
        if self._id is None:
            self._id = spark.read.json(f"{self.checkpoint}/metadata").first()["id"]
        return self._id

    def tag(self, spark: SparkSession, batch_id: int, record: dict | None = None) -> str:
        return commit_tags.tag(self.query_id(spark), batch_id, record)

    def _tags_batch(self, spark: SparkSession, commit: Row, batch_id: int) -> bool:
        tag = commit_tags.parsed(commit["userMetadata"], commit["operation"])
        return tag is not None and (tag["query_id"], tag["batch_id"]) == (self.query_id(spark), batch_id)

    def committed(self, spark: SparkSession, table: Table, batch_id: int) -> Row | None:
        """This batch's commit to the table (its `DESCRIBE HISTORY` row), if it made one: a replay of the run's
        first batch may find one; a later batch never does, and does not ask."""
        if self._first_batch is None:
            self._first_batch = batch_id
        if batch_id != self._first_batch:
            return None
        history = table.history(spark, self.LOOKBACK).collect()
        return next((row for row in history if self._tags_batch(spark, row, batch_id)), None)

    def written(self, spark: SparkSession, table: Table, batch_id: int) -> bool:
        return self.committed(spark, table, batch_id) is not None

    def append(self, table: Table, rows: DataFrame, batch_id: int, record: dict | None = None) -> None:
        """Appends the rows unless this batch already did (a replay after a crash); `record` rides in the tag."""
        spark = rows.sparkSession
        if not self.written(spark, table, batch_id):
            table.save(rows.write.mode("append").option("userMetadata", self.tag(spark, batch_id, record)))

    def tagged(self, spark: SparkSession, batch_id: int, record: dict | None = None) -> AbstractContextManager[None]:
        """Tags the commits of the block (a MERGE, say) with this batch and its record, through the session's
        setting."""
        return session_settings(spark, {USER_METADATA: self.tag(spark, batch_id, record)})


class QueryLock:
    """One writer per checkpoint: a second process starting a query on a checkpoint that a running process holds
    stops at once, naming who holds it, before it writes anything.

    The lock is an advisory `flock` on `<checkpoint>.lock`, held until the process ends (so a `kill -9` frees
    it). It needs a local or FUSE path (locally, and /Volumes on Databricks); a checkpoint given as a URI
    (s3://, abfss://) is left to the job's `max_concurrent_runs: 1`.
    """

    _held: dict[str, int] = {}  # lock file -> open descriptor, for the life of the process

    @classmethod
    def acquire(cls, checkpoint: str, query: str) -> None:
        if "://" in checkpoint and not checkpoint.startswith("file:"):
            return
        path = Path(checkpoint.removeprefix("file:")).with_suffix(".lock")
        if str(path) in cls._held:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(descriptor, 4096).decode(errors="replace").strip() or "another process"
            os.close(descriptor)
            raise LeadscoreError(
                f"the {query} query is already running ({holder}) on checkpoint {checkpoint}: one writer per "
                "lakehouse; stop it first"
            ) from None
        owner = f"pid {os.getpid()} on {socket.gethostname()}, since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, owner.encode(), 0)
        cls._held[str(path)] = descriptor


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
