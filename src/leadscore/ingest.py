"""Landing -> bronze + silver in one streaming query: each new file once, every row accounted for, exactly once.

`leadscore ingest` runs the query with an availableNow trigger (what has landed, then it stops) and `leadscore
stream` keeps it running beside the scores query: there is one ingestion path.

Per micro-batch, the stream parses the batch's files (leadscore.bronze) and Spark's streaming de-duplication marks
the contents it has never seen (state in the query's checkpoint, so telling a re-delivery costs the same whatever
silver holds); `IngestBatch` then writes bronze, silver, quarantine and duplicates from that one parse, each write
idempotent for its (query, batch).
"""

from __future__ import annotations

import hashlib
import logging

from pyspark import StorageLevel
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from leadscore import bronze, silver
from leadscore.config import Config
from leadscore.streams import BatchCommits, QueryLock, await_query, progress_logged, trigger

log = logging.getLogger("leadscore")

PROBE = "_probe"
BROADCAST_ROWS = 200_000  # contents delivered more than once in a batch, or before it: joined by broadcast up to this
ROWS_PER_WRITER = 100_000  # fewer rows than this are appended as one file


def parsed_and_judged(files: DataFrame, encoding: str) -> DataFrame:
    """Landing files -> bronze rows, typed and judged by the expectations: all of it stateless, so it is part of
    the stream's own plan, analysed once when the query starts rather than at every micro-batch."""
    return silver.judge(silver.with_typed_columns(bronze.to_bronze(files, encoding)))


def deliveries(rows: DataFrame) -> DataFrame:
    """The batch's rows and, flagged `_probe`, one row per content (`_row_hash`) the stream has never seen.

    Spark's streaming de-duplication drops what it has seen; the rows themselves go past it untouched, so every row
    still lands in bronze and the re-deliveries are counted, not lost.
    """
    new_contents = rows.select("_row_hash").dropDuplicates(["_row_hash"]).withColumn(PROBE, F.lit(True))
    return rows.withColumn(PROBE, F.lit(False)).unionByName(new_contents, allowMissingColumns=True)


FILE_IDENTITY = ("_source_file", "_file_modification_time")


class EarlierLandings:
    """What bronze already holds from other ingest queries, for a query that starts on a fresh checkpoint (a reset,
    or a new one) over a lakehouse that has data: the checkpoint's list of seen files and its de-duplication state
    are gone, so the landing folder's files come again. A file already landed (same path, same modification time) is
    skipped whole, and a content bronze already holds is a re-delivery, not new.

    Read once, when the query starts, and only while bronze holds files the query's own log has not seen: an
    ordinary run, or a reset query once it has passed over the earlier files, never builds it.
    """

    def __init__(self, landed: DataFrame):
        self.files = landed.select(*FILE_IDENTITY).distinct().localCheckpoint()
        self.contents = landed.select("_row_hash").distinct().localCheckpoint()

    @classmethod
    def for_query(cls, spark: SparkSession, config: Config, checkpoint: str) -> EarlierLandings | None:
        """None unless bronze holds files, landed by another query (another checkpoint), that this query has not
        seen yet; so the check costs nothing once a reset query has passed over the files that were landed."""
        bronze_table = config.table("bronze_leads")
        if not bronze_table.exists(spark):
            return None
        landed = bronze_table.read(spark)
        if _has_metadata(spark, checkpoint):  # this query's own writes (a replayed batch's) are not earlier ones
            landed = landed.where(F.col("_ingest_query_id") != BatchCommits(checkpoint).query_id(spark))
        files = landed.select(_file_key(landed)).distinct()
        if files.join(files_seen(spark, checkpoint), "_file_key", "left_anti").isEmpty():
            return None
        log.info("ingest: checkpoint %s is new to files bronze holds: those files are skipped", checkpoint)
        return cls(landed)

    def unseen(self, batch: DataFrame) -> DataFrame:
        """The batch without the files bronze holds, its probes without the contents bronze holds."""
        fresh = batch.join(self.files, list(FILE_IDENTITY), "left_anti")  # probes have no file: they stay
        probes = fresh.where(F.col(PROBE)).join(self.contents, "_row_hash", "left_anti")
        return fresh.where(~F.col(PROBE)).unionByName(probes)


def _file_key(files: DataFrame) -> Column:
    """A file's path in one spelling: the stream's log writes `file:///x`, the binaryFile source `file:/x`."""
    return F.regexp_replace(files["_source_file"], "^file:/+", "/").alias("_file_key")


def files_seen(spark: SparkSession, checkpoint: str) -> DataFrame:
    """The files the query's file source has taken (its log in the checkpoint: a header line, then one JSON object
    per file), as `_file_key`."""
    log_lines = f"{checkpoint}/sources/0"
    empty = spark.createDataFrame([], "_file_key string")
    try:
        lines = spark.read.text(log_lines).where(F.col("value").startswith("{"))
        _ = lines.schema  # analysed here: over Spark Connect a missing log is only found when the plan is analysed
    except AnalysisException:
        return empty
    paths = lines.select(F.get_json_object("value", "$.path").alias("_source_file"))
    return paths.select(_file_key(paths))


def _has_metadata(spark: SparkSession, checkpoint: str) -> bool:
    try:
        spark.read.text(f"{checkpoint}/metadata").limit(1).collect()
    except AnalysisException:
        return False
    return True


class IngestBatch:
    """foreachBatch: one parsed batch -> bronze, silver, quarantine and duplicates, each append idempotent."""

    def __init__(self, config: Config, commits: BatchCommits, earlier: EarlierLandings | None = None):
        self.config = config
        self.commits = commits
        self.earlier = earlier

    def _append(self, logical: str, rows: DataFrame, batch_id: int, size: int) -> None:
        """Appends `size` rows: one file from a live micro-batch; a backfill's batch in the partitions Spark's file
        source sized for the cores (one writer of a 1M-row batch took 17 s for bronze, 16 s for silver)."""
        self.commits.append(self.config.table(logical), rows.coalesce(1) if size < ROWS_PER_WRITER else rows, batch_id)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        spark = batch.sparkSession
        # Materialised once, so the parse and the stream's de-duplication state are not run again by each write: as
        # rows on local disk (a local checkpoint), not Spark's columnar cache, whose encoding doubled the cost of a
        # 1M-row batch's parse (docs/performance.md), and not the heap, which a backfill's batch beside the parse's
        # whole-file buffers ran out of.
        batch = batch.localCheckpoint(eager=True, storageLevel=StorageLevel.DISK_ONLY)
        if self.earlier is not None:
            batch = self.earlier.unseen(batch)
        rows = batch.where(~F.col(PROBE)).select(
            *[c for c in batch.columns if c != PROBE],
            F.current_timestamp().alias("_ingested_at"),
            F.lit(self.commits.query_id(spark)).alias("_ingest_query_id"),
            F.lit(batch_id).cast("long").alias("_ingest_batch_id"),
        )
        new_contents, size = batch.agg(F.count_if(F.col(PROBE)), F.count_if(~F.col(PROBE))).first()
        # As many contents never seen as rows: every row is the first delivery of a new content, so there is nothing
        # to tell apart. The usual batch; grouping a clean backfill's 1M rows by content took 15 s to find nothing.
        exceptions = None
        if new_contents < size:
            exceptions = silver.delivery_exceptions(rows, batch.where(F.col(PROBE))).localCheckpoint()
            if exceptions.count() <= BROADCAST_ROWS:
                exceptions = F.broadcast(exceptions)
        classified = silver.classify(silver.mark_first_deliveries(rows, exceptions))
        self._append("bronze_leads", silver.bronze_rows(rows), batch_id, size)
        outcome_counts = [F.count_if(F.col("_outcome") == o).alias(o) for o in ("quarantine", "duplicate")]
        if self.commits.written(spark, self.config.table("silver_leads"), batch_id):
            counts = classified.agg(*outcome_counts).first().asDict()  # a replay: silver holds the batch
        else:  # counted while silver is written, without a pass of their own
            outcomes = Observation(f"outcomes_{batch_id}")
            counted = classified.observe(outcomes, *outcome_counts)
            self._append("silver_leads", silver.silver_rows(counted), batch_id, size)
            counts = outcomes.get
        for outcome in ("quarantine", "duplicate"):
            if counts[outcome]:  # an empty append would still commit a table version
                logical, rows_of = silver.OUTPUTS[outcome]
                self._append(logical, rows_of(classified), batch_id, counts[outcome])


def checkpoint_for(config: Config, source: str) -> str:
    """One ingest checkpoint per landing source, however it is spelled: a second source is a second stream."""
    key = hashlib.sha1(bronze.normalised_source(source).encode()).hexdigest()[:12]
    return config.checkpoint(f"ingest_{key}")


def create_tables(spark: SparkSession, config: Config) -> None:
    """Bronze, silver, quarantine and duplicates exist before the first file lands, so the scores stream can start.

    Their schemas come from the parse's plan, whose analysis takes seconds: it is built only when a table is missing.
    """
    logicals = ["bronze_leads", *(logical for logical, _ in silver.OUTPUTS.values())]
    if all(config.table(logical).exists(spark) for logical in logicals):
        return
    empty = spark.createDataFrame([], bronze.BINARY_FILE_SCHEMA)
    rows = parsed_and_judged(empty, config.ingest.encoding).select(
        "*",
        F.current_timestamp().alias("_ingested_at"),
        F.lit("").alias("_ingest_query_id"),
        F.lit(0).cast("long").alias("_ingest_batch_id"),
    )
    config.table("bronze_leads").create_if_missing(spark, silver.bronze_rows(rows).schema)
    exceptions = silver.delivery_exceptions(rows, rows.select("_row_hash"))
    classified = silver.classify(silver.mark_first_deliveries(rows, exceptions))
    for logical, rows_of in silver.OUTPUTS.values():
        config.table(logical).create_if_missing(spark, rows_of(classified).schema)


def start(spark: SparkSession, config: Config, source: str, *, available_now: bool) -> StreamingQuery:
    """Starts the ingest query over a landing folder (or one file)."""
    source = bronze.normalised_source(source)
    bronze.check_landing(spark, source)
    checkpoint = checkpoint_for(config, source)
    QueryLock.acquire(checkpoint, "ingest")
    # Asked before the tables are created: in a new lakehouse there is no bronze, so nothing to ask it.
    earlier = EarlierLandings.for_query(spark, config, checkpoint)
    create_tables(spark, config)
    encoding = config.ingest.encoding
    bronze.legacy_charsets(spark, encoding)
    handler = IngestBatch(config, BatchCommits(checkpoint), earlier)
    files = bronze.read_landing(spark, source, config.ingest.max_files_per_trigger)
    writer = (
        deliveries(parsed_and_judged(files, encoding))
        .writeStream.queryName("ingest")
        .foreachBatch(handler)
        .option("checkpointLocation", checkpoint)
    )
    return trigger(writer, available_now, config.stream.trigger_seconds).start()


def committed_batches(spark: SparkSession, checkpoint: str) -> int:
    """How many micro-batches the checkpoint has committed: the next run starts at this batch id (or replays it)."""
    try:
        names = spark.read.text(f"{checkpoint}/commits").select(F.col("_metadata.file_name")).distinct().collect()
    except AnalysisException:
        return 0
    return max((int(r[0]) + 1 for r in names if r[0].isdigit()), default=0)


def run_counts(spark: SparkSession, config: Config, query_id: str, first_batch: int) -> dict[str, int]:
    """What this run wrote, replayed batches included: rows stamped by this query's batches from `first_batch` on."""

    def written(logical: str) -> DataFrame:
        return (
            config.table(logical)
            .read(spark)
            .where((F.col("_ingest_query_id") == query_id) & (F.col("_ingest_batch_id") >= first_batch))
        )

    files, rows, repaired = (
        written("bronze_leads").agg(F.count_distinct("_source_file"), F.count(F.lit(1)), F.count("_repair")).first()
    )
    return {
        "files": files,
        "rows_read": rows,
        "bronze": rows,
        "silver": written("silver_leads").count(),
        "quarantined": written("quarantine").count(),
        "duplicates": written("duplicates").count(),
        "repaired": repaired,
    }


def ingest(spark: SparkSession, config: Config, source: str) -> dict[str, int]:
    """Ingests what has landed (availableNow) and returns this run's counts."""
    checkpoint = checkpoint_for(config, source)
    first_batch = committed_batches(spark, checkpoint)
    with progress_logged(spark):
        log.info("ingest: new files from %s -> bronze, silver, quarantine, duplicates", source)
        query = await_query(start(spark, config, source, available_now=True))
    return run_counts(spark, config, str(query.id), first_batch)
