"""Landing (or a Kafka topic) -> bronze + silver in one streaming query: each new file or message once, every row
accounted for, exactly once.

`leadscore ingest` runs the query with an availableNow trigger (what has landed, then it stops) and `leadscore
stream` keeps it running beside the scores query: there is one ingestion path.

Per micro-batch, the stream parses the batch's files (ingest.bronze) or messages (ingest.messages; the source is
ingest.sources) and Spark's streaming de-duplication marks the contents it has never seen (state in the query's
checkpoint, so telling a re-delivery costs the same whatever silver holds); `IngestBatch` then writes bronze,
silver, quarantine and duplicates from that one parse, each write idempotent for its (query, batch).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pyspark import StorageLevel, inheritable_thread_target
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming import StreamingQuery
from pyspark.sql.utils import is_remote

from leadscore.config import Config
from leadscore.ingest import bronze, landing, silver, sources
from leadscore.ingest.counts import BRONZE_RECORD, committed_batches, run_counts
from leadscore.streaming import commit_tags
from leadscore.streaming.commits import BatchCommits
from leadscore.streaming.lock import QueryLock
from leadscore.streaming.queries import await_query, progress_logged, session_settings, trigger
from leadscore.tables import Table

if TYPE_CHECKING:
    from leadscore.scoring.live import LiveScores

log = logging.getLogger("leadscore")

PROBE = "_probe"
BROADCAST_ROWS = 200_000  # a batch's exceptions, or its probes of earlier landings: joined by broadcast up to this
ROWS_PER_WRITER = 100_000  # fewer rows than this are appended as one file
# Operations that add no rows: a bronze whose other commits are all one query's holds nothing it has not seen.
ADDS_NO_ROWS = ("CREATE TABLE", "OPTIMIZE", "VACUUM START", "VACUUM END", "SET TBLPROPERTIES")
HISTORY_PROOF = 500  # commits of bronze's history read to show one query wrote all of it; bronze is scanned beyond
# A backfill (availableNow) stops whole-stage code at a bronze row's width, so the parse and silver's typing compile
# apart, which is faster for large batches and slower for a live one (docs/performance.md, Ingest).
BACKFILL_SETTINGS = {"spark.sql.codegen.maxFields": str(bronze.FIELD_COUNT + len(bronze.BRONZE_METADATA))}


def judged(bronze_rows: DataFrame) -> DataFrame:
    """Bronze rows, typed and judged by the expectations: all of it stateless, so it is part of the stream's own
    plan, analysed once when the query starts rather than at every micro-batch."""
    return silver.judge(silver.with_typed_columns(bronze_rows))


def parsed_and_judged(files: DataFrame, encoding: str) -> DataFrame:
    """Landing files -> bronze rows, typed and judged."""
    return judged(bronze.to_bronze(files, encoding))


def deliveries(rows: DataFrame) -> DataFrame:
    """The batch's rows and, flagged `_probe`, one row per content (`_row_hash`) the stream has never seen.

    Spark's streaming de-duplication drops what it has seen; the rows themselves go past it untouched, so every row
    still lands in bronze and the re-deliveries are counted, not lost.
    """
    new_contents = rows.select("_row_hash").dropDuplicates(["_row_hash"]).withColumn(PROBE, F.lit(True))
    return rows.withColumn(PROBE, F.lit(False)).unionByName(new_contents, allowMissingColumns=True)


FILE_IDENTITY = ("_source_file", "_file_modification_time")


def broadcast_if_few(rows: DataFrame) -> DataFrame:
    """The rows, marked for a broadcast join when there are at most BROADCAST_ROWS of them: a live batch's few,
    not a backfill's many."""
    return F.broadcast(rows) if rows.count() <= BROADCAST_ROWS else rows


class EarlierLandings:
    """What bronze already holds from other ingest queries, for a query that starts on a fresh checkpoint (a reset,
    or a new one) over a lakehouse that has data: the checkpoint's list of seen files and its de-duplication state
    are gone, so the landing folder's files come again. A file already landed (same path, same modification time) is
    skipped whole, and a content bronze already holds is a re-delivery, not new.

    Looked for by the first micro-batch a run executes, not when the query starts: a run with nothing new (a
    restart, a second landing source's query run again) never asks bronze, which on a large lakehouse is the
    dearest step of such a run. Found only while bronze holds files the query had not
    seen before that batch, so an ordinary run, or a reset query once it has passed over the earlier files, never
    builds it; its files and contents are collected by the first batch that needs them.
    """

    def __init__(self, landed: DataFrame):
        self.landed = landed
        self._files: DataFrame | None = None
        self._contents: DataFrame | None = None

    def _collected(self) -> tuple[DataFrame, DataFrame]:
        if self._files is None or self._contents is None:
            self._files = self.landed.select(*FILE_IDENTITY).distinct().localCheckpoint()
            self._contents = self.landed.select("_row_hash").distinct().localCheckpoint()
        return self._files, self._contents

    @classmethod
    def for_batch(
        cls, spark: SparkSession, config: Config, commits: BatchCommits, batch_id: int
    ) -> EarlierLandings | None:
        """None unless bronze holds files, landed by another query (another checkpoint), that this query had not
        seen before `batch_id`: the files of that batch, and of a replayed one, are in the checkpoint's log already,
        and are not the earlier landings they may repeat."""
        bronze_table = config.table("bronze_leads")
        own_id = commits.query_id(spark)
        if _written_only_by(spark, bronze_table, own_id):
            return None
        landed = bronze_table.read(spark).where(F.col("_ingest_query_id") != own_id)  # a replayed batch's own rows
        files = landed.select(_file_key(landed)).distinct()
        if files.join(files_seen(spark, commits.checkpoint, batch_id), "_file_key", "left_anti").isEmpty():
            return None
        log.info("ingest: checkpoint %s is new to files bronze holds: those files are skipped", commits.checkpoint)
        return cls(landed)

    def unseen(self, batch: DataFrame) -> DataFrame:
        """The (materialised) batch without the files bronze holds, its probes without the contents bronze holds.

        The batch's probes go to bronze's contents, not the contents to the batch: a live batch's few probes are
        broadcast to a scan of the contents, and only the contents found come back; Spark would otherwise broadcast
        all of bronze's contents to every micro-batch.
        """
        files, contents = self._collected()
        fresh = batch.join(files, list(FILE_IDENTITY), "left_anti")  # probes have no file: they stay
        probes = fresh.where(F.col(PROBE))
        held = contents.join(broadcast_if_few(probes.select("_row_hash")), "_row_hash", "left_semi")
        return fresh.where(~F.col(PROBE)).unionByName(probes.join(held, "_row_hash", "left_anti"))


def _written_only_by(spark: SparkSession, table: Table, query_id: str) -> bool:
    """Whether every commit that added rows to the table carries this query's tag, shown by its history back to its
    creation: then the table holds no file the query has not seen, and nothing needs scanning (a scan of bronze is
    the dearest Delta work of a fresh process on an existing lakehouse).
    False when history goes back further than HISTORY_PROOF commits, or its oldest commits were cleaned up."""
    history = table.history(spark, HISTORY_PROOF).select("version", "operation", "userMetadata").collect()
    if not history or history[-1]["version"] != 0:
        return False
    tags = [
        commit_tags.parsed(commit["userMetadata"], commit["operation"])
        for commit in history
        if commit["operation"] not in ADDS_NO_ROWS
    ]
    return all(tag is not None and tag["query_id"] == query_id for tag in tags)


def _file_key(files: DataFrame) -> Column:
    """A file's path in one spelling: the stream's log writes `file:///x`, the binaryFile source `file:/x`."""
    return F.regexp_replace(files["_source_file"], "^file:/+", "/").alias("_file_key")


def files_seen(spark: SparkSession, checkpoint: str, before_batch: int) -> DataFrame:
    """The files the query's file source took in its batches before `before_batch` (its log in the checkpoint: a
    header line, then one JSON object per file with the batch that took it), as `_file_key`."""
    log_lines = f"{checkpoint}/sources/0"
    empty = spark.createDataFrame([], "_file_key string")
    try:
        lines = spark.read.text(log_lines).where(F.col("value").startswith("{"))
        _ = lines.schema  # analysed here: over Spark Connect a missing log is only found when the plan is analysed
    except AnalysisException:
        return empty
    taken = lines.where(F.get_json_object("value", "$.batchId").cast("long") < before_batch)
    paths = taken.select(F.get_json_object("value", "$.path").alias("_source_file"))
    return paths.select(_file_key(paths))


def _processed_then(rows: DataFrame) -> DataFrame:
    """An outcome's rows, processed when the batch was ingested (its stamp, not a literal of its own)."""
    return rows.withColumn("_processed_at", F.col("_ingested_at"))


def batch_figures(counts_files: bool) -> list[Column]:
    """A batch's figures, observed while it is materialised (no Spark job of their own). Probes have neither a line,
    a repair nor expectations, so these count the rows' own. A file is counted by its first record: a distinct count
    of file names would need shuffles of its own; messages (`counts_files` false) come in no file."""
    first_records = F.count_if(F.col("_line_number") == bronze.FIRST_RECORD_LINE) if counts_files else F.lit(0)
    return [
        F.count_if(F.col(PROBE)).alias("new_contents"),
        F.count_if(~F.col(PROBE)).alias("rows"),
        first_records.alias("files"),
        F.count("_repair").alias("repaired"),
        F.count_if(~F.col(PROBE) & (F.size("_failed_expectations") > 0)).alias("failing"),
    ]


WRITERS = 5  # bronze, silver, quarantine, duplicates, score_events: one thread each


class IngestBatch:
    """foreachBatch: one parsed batch -> bronze, silver, quarantine, duplicates and, scored live, score_events; each
    append idempotent, all at once.

    `look_for_earlier`: bronze existed when the query started, so it may hold earlier landings (`EarlierLandings`),
    looked for by the first batch the run executes. `live`: the live query's scorer (leadscore.scoring.live), whose
    rows of the batch go to score_events; none for a backfill (`leadscore ingest`). `counts_files`: the rows come
    from files (not messages).

    The appends go to different tables, so they do not conflict: each runs in a thread of its own, and while one
    plans or commits in the driver another's tasks use the cores. score_events, where agents see a score, starts
    first. Over Spark Connect the handler runs in the server's Python worker, whose threads do not carry the
    session's job artifacts: there the appends run one after another.
    """

    def __init__(
        self,
        config: Config,
        commits: BatchCommits,
        *,
        look_for_earlier: bool,
        live: LiveScores | None = None,
        counts_files: bool = True,
    ):
        self.config = config
        self.commits = commits
        self.look_for_earlier = look_for_earlier
        self.live = live
        self.counts_files = counts_files
        self.earlier: EarlierLandings | None = None
        self._writers: ThreadPoolExecutor | None = None

    def __getstate__(self) -> dict:
        """Over Spark Connect the handler is pickled to the server's Python worker: its threads start there."""
        return {**self.__dict__, "_writers": None}

    def _append(self, logical: str, rows: DataFrame, batch_id: int, size: int, record: dict | None = None) -> None:
        """Appends `size` rows: one file from a live micro-batch; a backfill's batch in the partitions Spark's file
        source sized for the cores, since one writer would serialise a large batch."""
        rows = rows.coalesce(1) if size < ROWS_PER_WRITER else rows
        self.commits.append(self.config.table(logical), rows, batch_id, record)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        spark = batch.sparkSession
        started = time.perf_counter()
        figures = Observation(f"ingest_batch_{batch_id}")
        # Materialised once on local disk, so the writes do not parse again: the columnar cache's encoding is dearer
        # and the heap is too small for a backfill's batch beside the parse's whole-file buffers. The stamps are
        # materialised with it: as literals in each write they would make a new plan to compile at every batch.
        stamped = batch.observe(figures, *batch_figures(self.counts_files)).select("*", *self._stamps(spark, batch_id))
        batch = stamped.localCheckpoint(eager=True, storageLevel=StorageLevel.DISK_ONLY)
        # Over Spark Connect a local checkpoint reports no observed metrics: there the figures cost a pass of their own.
        counts = figures.get or batch.agg(*batch_figures(self.counts_files)).first().asDict()
        if self.look_for_earlier:
            self.earlier = EarlierLandings.for_batch(spark, self.config, self.commits, batch_id)
            self.look_for_earlier = False
        if self.earlier is not None:  # materialised again, so that each write does not join it again
            batch = self.earlier.unseen(batch).localCheckpoint(eager=True, storageLevel=StorageLevel.DISK_ONLY)
            counts = batch.agg(*batch_figures(self.counts_files)).first().asDict()
        steps = {"materialise": time.perf_counter() - started}
        rows = batch.where(~F.col(PROBE)).drop(PROBE)
        # As many contents never seen as rows: every row is the first delivery of a new content, so there is nothing
        # to tell apart, and a row is quarantined exactly when it fails an expectation (the usual batch: grouping it
        # by content would find nothing, at a backfill's full price).
        exceptions = None
        outcomes = {"quarantine": counts["failing"], "duplicate": 0}
        if counts["new_contents"] < counts["rows"]:
            exceptions = broadcast_if_few(silver.delivery_exceptions(rows, batch.where(F.col(PROBE))).localCheckpoint())
        classified = silver.classify(silver.mark_first_deliveries(rows, exceptions))
        if exceptions is not None:
            outcomes = classified.agg(*[F.count_if(F.col("_outcome") == o).alias(o) for o in outcomes]).first().asDict()
        size, silver_size = counts["rows"], counts["rows"] - sum(outcomes.values())
        record = {BRONZE_RECORD: {"files": counts["files"], "repaired": counts["repaired"]}}
        writes: dict[str, Callable[[], None]] = {}
        if self.live is not None and silver_size:
            writes["score_events"] = lambda: self._score(classified, batch_id, silver_size)
        writes["bronze_leads"] = lambda: self._append("bronze_leads", silver.bronze_rows(rows), batch_id, size, record)
        for outcome, count in {"silver": silver_size, **outcomes}.items():
            if count:  # a write of no rows still plans and runs its jobs
                logical, rows_of = silver.OUTPUTS[outcome]
                writes[logical] = lambda logical=logical, rows_of=rows_of, count=count: self._append(
                    logical, _processed_then(rows_of(classified)), batch_id, count
                )
        steps |= self._concurrently(spark, writes)
        steps["batch"] = time.perf_counter() - started
        log.info(
            "ingest: batch %d: %d rows from %d files in %.2fs (%s)", batch_id, size, counts["files"], steps["batch"],
            ", ".join(f"{step} {seconds:.2f}s" for step, seconds in steps.items() if step != "batch"),
            extra={"batch_steps": {"batch_id": batch_id, "rows": size, **steps}},
        )  # fmt: skip

    def _stamps(self, spark: SparkSession, batch_id: int) -> list[Column]:
        """When, by which query and in which batch the rows were ingested: one time for the batch's rows in every
        table (the live view's high-water mark compares silver's with score_events')."""
        return [
            F.lit(datetime.now(UTC)).alias("_ingested_at"),
            F.lit(self.commits.query_id(spark)).alias("_ingest_query_id"),
            F.lit(batch_id).cast("long").alias("_ingest_batch_id"),
        ]

    def _score(self, classified: DataFrame, batch_id: int, size: int) -> None:
        events = self.live.rows(classified.where(F.col("_outcome") == "silver"))
        if events is not None:
            self._append("score_events", events, batch_id, size)

    def _concurrently(self, spark: SparkSession, writes: dict[str, Callable[[], None]]) -> dict[str, float]:
        """Runs the writes at once, each in a thread carrying this one's Spark properties (the query's job group,
        which its stop cancels); their seconds, and `appends` for all of them. The first failure is raised once
        every write has ended."""
        started = time.perf_counter()
        if is_remote():
            seconds = {}
            for name, write in writes.items():
                write()
                seconds[name] = time.perf_counter() - started
            return {**seconds, "appends": time.perf_counter() - started}
        if self._writers is None:
            self._writers = ThreadPoolExecutor(WRITERS, thread_name_prefix="ingest-append")

        def timed(write: Callable[[], None]) -> float:
            write()
            return time.perf_counter() - started

        running = {
            name: self._writers.submit(inheritable_thread_target(spark)(timed), write) for name, write in writes.items()
        }
        wait(running.values())
        seconds = {name: future.result() for name, future in running.items()}
        return {**seconds, "appends": time.perf_counter() - started}


def checkpoint_for(config: Config, source: str | sources.Source) -> str:
    """One ingest checkpoint per source (a landing path however it is spelled, a topic at its brokers): a second
    source is a second stream."""
    key = hashlib.sha1(sources.required(source, config).key.encode()).hexdigest()[:12]
    return config.checkpoint(f"ingest_{key}")


def create_tables(spark: SparkSession, config: Config, parsed_schema: T.StructType | None = None) -> None:
    """Bronze, silver, quarantine and duplicates exist before the first file lands, so the scores stream can start.

    Their schemas follow from the parse's, whose plan takes seconds to analyse: the ingest query passes the schema of
    the plan it has built (`parsed_schema`); otherwise the plan is built here, and only when a table is missing.
    """
    logicals = ["bronze_leads", *(logical for logical, _ in silver.OUTPUTS.values())]
    missing = [logical for logical in logicals if not config.table(logical).exists(spark)]
    if not missing:
        return
    if parsed_schema is None:
        parsed = parsed_and_judged(spark.createDataFrame([], landing.BINARY_FILE_SCHEMA), config.ingest.encoding)
    else:
        parsed = spark.createDataFrame([], parsed_schema)
    rows = parsed.select(
        "*",
        F.current_timestamp().alias("_ingested_at"),
        F.lit("").alias("_ingest_query_id"),
        F.lit(0).cast("long").alias("_ingest_batch_id"),
    )
    exceptions = silver.delivery_exceptions(rows, rows.select("_row_hash"))
    classified = silver.classify(silver.mark_first_deliveries(rows, exceptions))
    schemas = {"bronze_leads": silver.bronze_rows(rows).schema}
    schemas |= {logical: rows_of(classified).schema for logical, rows_of in silver.OUTPUTS.values()}
    for logical in missing:  # one after another: over Spark Connect a schema's DDL needs the thread's active session
        config.table(logical).create_if_missing(spark, schemas[logical])


def start(
    spark: SparkSession,
    config: Config,
    source: str | sources.Source,
    *,
    available_now: bool,
    live: LiveScores | None = None,
) -> StreamingQuery:
    """Starts the ingest query over a landing folder (or one file) or a Kafka topic; with `live`, the live query,
    which scores its rows in its plan and appends each batch's new silver rows to score_events too."""
    source = sources.required(source, config)
    rows = source.bronze_rows(spark, config)  # a missing landing path stops here, before the lock
    checkpoint = checkpoint_for(config, source)
    QueryLock.acquire(checkpoint, "ingest")
    # Asked before the tables are created: in a new lakehouse there is no bronze, so no earlier landings.
    look_for_earlier = source.may_repeat_landed and config.table("bronze_leads").exists(spark)
    parsed = judged(rows)
    create_tables(spark, config, parsed.schema)
    if live is not None:
        live.prepare(spark, config)
    handler = IngestBatch(
        config,
        BatchCommits(checkpoint),
        look_for_earlier=look_for_earlier,
        live=live,
        counts_files=source.has_files,
    )
    writer = (
        deliveries(parsed if live is None else live.in_plan(parsed))
        .writeStream.queryName("ingest")
        .foreachBatch(handler)
        .option("checkpointLocation", checkpoint)
    )
    with session_settings(spark, BACKFILL_SETTINGS if available_now else {}):  # the query's, not the session's
        return trigger(writer, available_now, config.stream.trigger_seconds).start()


def ingest(spark: SparkSession, config: Config, source: str | sources.Source | None) -> dict[str, int]:
    """Ingests what has landed (availableNow) and returns this run's counts."""
    source = sources.required(source, config)
    checkpoint = checkpoint_for(config, source)
    first_batch = committed_batches(spark, checkpoint)
    with progress_logged(spark):
        log.info("ingest: what is new in %s -> bronze, silver, quarantine, duplicates", source)
        query = await_query(start(spark, config, source, available_now=True))
    return run_counts(spark, config, str(query.id), range(first_batch, committed_batches(spark, checkpoint)))


def checked_file_rows(spark: SparkSession, path: str, encoding: str) -> DataFrame:
    """The file's rows parsed, typed and checked by the ingest query's own code; `_outcome` is silver or quarantine.

    A row repeated within the file is scored like any other: a re-delivery matters to the lakehouse, not here.
    Materialised (local checkpoint): a filter on `_outcome` over the unmaterialised plan is pushed down into the
    parse and the expectations, whose expressions it then inlines into each other; the plan grows to megabytes
    and takes Catalyst minutes to plan, whatever the file's size.
    """
    judged = parsed_and_judged(spark.read.format("binaryFile").load(path), encoding)
    return silver.classify(
        judged.select(
            "*",
            F.lit(True).alias("_first_delivery"),
            *[F.lit(None).alias(name) for name in ("_ingested_at", "_ingest_query_id", "_ingest_batch_id")],
        )
    ).localCheckpoint()
