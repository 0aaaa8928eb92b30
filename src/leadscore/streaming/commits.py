"""Exactly-once writes of a foreachBatch query: each commit tagged with its (query, batch), a replay finds its own."""

from __future__ import annotations

from contextlib import AbstractContextManager

from pyspark.sql import DataFrame, Row, SparkSession

from leadscore.streaming import commit_tags
from leadscore.streaming.queries import session_settings
from leadscore.tables import Table

USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


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
