"""Bronze -> silver: typed, renamed, cleaned leads; failing rows to quarantine; re-deliveries counted, not kept.

Every bronze row ends in exactly one of silver, quarantine or duplicates, so
bronze rows = silver rows + quarantined rows + duplicate re-deliveries.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from leadscore.config import Config
from leadscore.expectations import failed
from leadscore.schema import COLUMNS, PLACEHOLDER, RAW_NAMES
from leadscore.schema import Column as SourceColumn
from leadscore.streams import QueryIdentity, trigger

# Where in the record a row comes from: file, line, and when the file landed.
LINEAGE = ("_source_file", "_line_number", "_row_hash", "_ingested_at")
ORDER = ("event_ts", "event_seq")  # newest event of a lead = greatest (event_ts, event_seq)


def _cleaned(raw: str) -> Column:
    """'' and the web form's untouched `Select` both mean "not answered" (a plain CASE: cheap to plan)."""
    value = F.trim(F.col(f"_raw.{raw}"))
    return F.when(value.isin("", PLACEHOLDER), F.lit(None).cast("string")).otherwise(value)


def _typed(column: SourceColumn) -> Column:
    value = F.col(f"_answer.{column.raw_name}")
    if column.kind in ("int", "double"):
        return value.try_cast(column.kind)  # ANSI mode: a dirty number becomes null, and an expectation names it
    if column.kind == "bool":
        return F.when(F.lower(value) == "yes", True).when(F.lower(value) == "no", False)
    if column.kind == "label":
        return F.when(value == "1", True).when(value == "0", False)
    return value


def with_typed_columns(bronze: DataFrame) -> DataFrame:
    """The typed, renamed columns beside the raw ones (in `_raw`), which the expectations compare."""
    raw = bronze.select(F.struct(*RAW_NAMES).alias("_raw"), *[c for c in bronze.columns if c.startswith("_")])
    answered = raw.select("*", F.struct(*[_cleaned(name).alias(name) for name in RAW_NAMES]).alias("_answer"))
    return answered.select(
        "*",
        *[_typed(c).alias(c.name) for c in COLUMNS],
        F.col("_file_modification_time").alias("event_ts"),
        F.col("_line_number").alias("event_seq"),
    )


def classify(typed: DataFrame, seen: DataFrame) -> DataFrame:
    """Adds `_outcome` (silver, quarantine or duplicate) and the failed expectations; drops `_answer`, and keeps
    `_raw` only on rows that fail an expectation (quarantine's evidence).

    A duplicate is a row whose content (`_row_hash`) was already delivered from another file or line, earlier in
    this batch or in `seen` (silver and quarantine so far). A replayed batch finds its own rows in `seen` under the
    same file and line, so they are not mistaken for re-deliveries.
    """
    first = Window.partitionBy("_row_hash").orderBy(*ORDER, "_source_file")
    # Judged before the shuffles, which then carry the raw values only of the rows quarantine keeps, and no
    # `_answer`: half the width of a clean row, and of what the batch materialises.
    judged = typed.select("*", failed("quarantine").alias("_failed_expectations"), failed("warn").alias("_warnings"))
    failing = F.size("_failed_expectations") > 0
    narrow = judged.select(
        *[c for c in judged.columns if c not in ("_raw", "_answer")], F.when(failing, F.col("_raw")).alias("_raw")
    )
    earlier = (
        seen.join(typed.select("_row_hash").distinct(), "_row_hash", "left_semi")  # only this batch's contents
        .select("_row_hash", F.struct("_source_file", "_line_number").alias("_seen_at"))
        .groupBy("_row_hash")
        .agg(F.collect_set("_seen_at").alias("_seen_at"))
    )
    seen_at = F.coalesce("_seen_at", F.array())
    here = F.struct("_source_file", "_line_number")
    redelivered = F.size(seen_at) > F.when(F.array_contains(seen_at, here), 1).otherwise(0)
    checked = (
        narrow.select("*", (F.row_number().over(first) == 1).alias("_first_in_batch"))
        .join(earlier, "_row_hash", "left")
        .select("*", redelivered.alias("_redelivered"))
    )
    outcome = (
        F.when(~F.col("_first_in_batch") | F.col("_redelivered"), "duplicate")
        .when(failing, "quarantine")
        .otherwise("silver")
    )
    kept = [c for c in checked.columns if c not in ("_first_in_batch", "_seen_at", "_redelivered")]
    return checked.select(*kept, outcome.alias("_outcome"))


def silver_rows(classified: DataFrame) -> DataFrame:
    return classified.where(F.col("_outcome") == "silver").select(
        *[c.name for c in COLUMNS], *ORDER, "_warnings", *LINEAGE, F.current_timestamp().alias("_processed_at")
    )


def quarantine_rows(classified: DataFrame) -> DataFrame:
    return classified.where(F.col("_outcome") == "quarantine").select(
        "_failed_expectations",
        "_raw",
        "_rescued_data",
        "_parse_error",
        *ORDER,
        *LINEAGE,
        F.current_timestamp().alias("_processed_at"),
    )


def duplicate_rows(classified: DataFrame) -> DataFrame:
    return classified.where(F.col("_outcome") == "duplicate").select(
        *ORDER, *LINEAGE, F.current_timestamp().alias("_processed_at")
    )


# Each outcome's table and its rows there.
OUTPUTS = {
    "silver": ("silver_leads", silver_rows),
    "quarantine": ("quarantine", quarantine_rows),
    "duplicate": ("duplicates", duplicate_rows),
}
ROWS_PER_FILE = 250_000  # a micro-batch of live traffic writes one file: the scoring stream takes a file a trigger


def _seen(spark: SparkSession, config: Config) -> DataFrame:
    where = ["_row_hash", "_source_file", "_line_number"]
    return (
        config.table("silver_leads")
        .read(spark)
        .select(*where)
        .unionByName(config.table("quarantine").read(spark).select(*where))
    )


def create_tables(spark: SparkSession, config: Config) -> None:
    """Silver, quarantine and duplicates exist before the first batch, which reads them to spot re-deliveries."""
    empty = with_typed_columns(config.table("bronze_leads").read(spark).limit(0))
    classified = classify(empty, empty.select("_row_hash", "_source_file", "_line_number"))
    for logical, rows in OUTPUTS.values():
        config.table(logical).create_if_missing(spark, rows(classified).schema)


class SilverBatch:
    """foreachBatch: classifies a bronze micro-batch and appends each outcome to its table, idempotently."""

    def __init__(self, config: Config, identity: QueryIdentity):
        self.config = config
        self.identity = identity

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        spark = batch.sparkSession
        # Materialised once: the writes then plan over a short lineage, not the wide typing and checks again.
        classified = classify(with_typed_columns(batch), _seen(spark, self.config)).localCheckpoint()
        counts = dict(classified.groupBy("_outcome").count().collect())
        for outcome, (logical, rows) in OUTPUTS.items():
            count = counts.get(outcome, 0)
            if count:  # an empty append would still commit a table version
                files = min(spark.sparkContext.defaultParallelism, -(-count // ROWS_PER_FILE))
                self.config.table(logical).save(
                    self.identity.idempotent_append(rows(classified).coalesce(files), batch_id)
                )


def start_stream(spark: SparkSession, config: Config, *, available_now: bool) -> StreamingQuery:
    create_tables(spark, config)
    checkpoint = config.checkpoint("silver")
    writer = (
        config.table("bronze_leads")
        .read_stream(spark)
        .writeStream.queryName("silver")
        .foreachBatch(SilverBatch(config, QueryIdentity(checkpoint)))
        .option("checkpointLocation", checkpoint)
    )
    return trigger(writer, available_now, config.stream.trigger_seconds).start()
