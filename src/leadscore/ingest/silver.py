"""Bronze rows -> silver: typed, renamed, cleaned leads; failing rows to quarantine; re-deliveries counted, not kept.

Every bronze row ends in exactly one of silver, quarantine or duplicates, so
bronze rows = silver rows + quarantined rows + duplicate re-deliveries.
The transforms here are pure; the ingest query (ingest.query) feeds them each micro-batch and writes the result.
"""

from __future__ import annotations

from functools import cache

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from leadscore.ingest.bronze import BRONZE_METADATA
from leadscore.ingest.expectations import ANSWERED, failed
from leadscore.schema import COLUMNS, KEY, ORDER, PLACEHOLDER, RAW_NAMES
from leadscore.schema import Column as SourceColumn

# Where in the record a row comes from: file, line, when the file landed, and the ingest micro-batch that wrote it.
LINEAGE = ("_source_file", "_line_number", "_row_hash", "_ingested_at", "_ingest_query_id", "_ingest_batch_id")
# Deliveries of the same content, earliest first: the first one is kept, the others are re-deliveries.
DELIVERY_ORDER = ("_file_modification_time", "_source_file", "_line_number")


def latest_per_lead(silver_df: DataFrame) -> DataFrame:
    """One row per lead: its newest event by ORDER (landing time, file, line)."""
    newest_first = Window.partitionBy(KEY).orderBy(*[F.desc(c) for c in ORDER])
    return silver_df.withColumn("_rank", F.row_number().over(newest_first)).where(F.col("_rank") == 1).drop("_rank")


# Silver's working frame keeps each raw value as `_raw__<raw name>`: Spark resolves names case-insensitively, so the
# raw `Prospect_ID` and the typed `prospect_id` cannot sit side by side under their own names.
RAW = "_raw__"


def _typed(column: SourceColumn) -> str:
    value = f"`{ANSWERED}{column.raw_name}`"
    if column.kind in ("int", "double"):
        return f"try_cast({value} AS {column.kind})"  # ANSI mode: a dirty number becomes null, an expectation names it
    if column.kind == "bool":
        return f"CASE lower({value}) WHEN 'yes' THEN true WHEN 'no' THEN false END"
    if column.kind == "label":
        return f"CASE {value} WHEN '1' THEN true WHEN '0' THEN false END"
    return value


@cache
def _typing() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The two projections of `with_typed_columns`, as SQL: written once, and each a single call into the JVM
    (building them column by column costs thousands of Py4J calls a micro-batch)."""
    answered = tuple(
        expression
        for n in RAW_NAMES
        # '' and the web form's untouched `Select` both mean "not answered".
        for expression in (
            f"`{n}` AS `{RAW}{n}`",
            f"nullif(nullif(trim(`{n}`), ''), '{PLACEHOLDER}') AS `{ANSWERED}{n}`",
        )
    )
    typed = tuple(f"{_typed(c)} AS {c.name}" for c in COLUMNS) + (
        "_file_modification_time AS event_ts",
        "_source_file AS event_file",
        "_line_number AS event_seq",
    )
    return answered, typed


def with_typed_columns(bronze: DataFrame) -> DataFrame:
    """The typed, renamed columns beside the raw ones (which the expectations compare and quarantine keeps)."""
    answered, typed = _typing()
    others = [f"`{c}`" for c in bronze.columns if c not in RAW_NAMES]
    return bronze.selectExpr(*others, *answered).selectExpr("*", *typed)


def delivery_exceptions(rows: DataFrame, new_contents: DataFrame) -> DataFrame:
    """Contents (`_row_hash`) of the batch that are not simply first deliveries: delivered before this batch (not in
    `new_contents`, the hashes the stream had never seen), or more than once in it (then `_first_at` is the earliest).

    Usually empty, so the batch's rows need no shuffle to be told apart: they are joined with this small frame.
    """
    copies = rows.groupBy("_row_hash").agg(
        F.count(F.lit(1)).alias("_copies"), F.min(F.struct(*DELIVERY_ORDER)).alias("_first_at")
    )
    return (
        copies.join(new_contents.select("_row_hash", F.lit(True).alias("_new")), "_row_hash", "left")
        .where((F.col("_copies") > 1) | F.col("_new").isNull())
        .select("_row_hash", F.coalesce("_new", F.lit(False)).alias("_new"), "_first_at")
    )


def mark_first_deliveries(rows: DataFrame, exceptions: DataFrame | None) -> DataFrame:
    """Adds `_first_delivery`: the row is the first delivery of its content (a replayed batch finds the same answer,
    since the stream's state and the batch's files are those of the first attempt).

    `exceptions` is None when the batch has none (as many contents never seen as rows): every row is then a first
    delivery, and no join is planned."""
    if exceptions is None:
        return rows.select("*", F.lit(True).alias("_first_delivery"))
    first = F.col("_new").isNull() | (F.col("_new") & (F.struct(*DELIVERY_ORDER) == F.col("_first_at")))
    return rows.join(exceptions, "_row_hash", "left").select(*rows.columns, first.alias("_first_delivery"))


def judge(typed: DataFrame) -> DataFrame:
    """Adds the names of the expectations each row fails (`_failed_expectations`, `_warnings`); drops the answered
    values, which only the expectations need."""
    return typed.selectExpr(
        *[f"`{c}`" for c in typed.columns if not c.startswith(ANSWERED)],
        f"{failed('quarantine')} AS _failed_expectations",
        f"{failed('warn')} AS _warnings",
    )


def classify(judged: DataFrame) -> DataFrame:
    """Adds `_outcome`: duplicate when the row is not the first delivery of its content (`mark_first_deliveries`),
    whatever its expectations say; else quarantine when it fails one; else silver."""
    return judged.selectExpr(
        "*",
        "CASE WHEN NOT _first_delivery THEN 'duplicate' WHEN size(_failed_expectations) > 0 THEN 'quarantine' "
        "ELSE 'silver' END AS _outcome",
    )


def bronze_rows(judged: DataFrame) -> DataFrame:
    """The bronze table's columns: the raw values under their own names, and the row's lineage."""
    return judged.select(
        "_source_file",
        "_file_modification_time",
        "_line_number",
        *[F.col(f"`{RAW}{n}`").alias(n) for n in RAW_NAMES],
        *BRONZE_METADATA[3:],
        *LINEAGE[4:],
    )


def silver_rows(classified: DataFrame) -> DataFrame:
    return classified.where(F.col("_outcome") == "silver").select(
        *[c.name for c in COLUMNS], *ORDER, "_warnings", *LINEAGE, F.current_timestamp().alias("_processed_at")
    )


def quarantine_rows(classified: DataFrame) -> DataFrame:
    """Failing rows with the names of every rule they failed and their raw values, the evidence to fix them by."""
    return classified.where(F.col("_outcome") == "quarantine").select(
        "_failed_expectations",
        F.struct(*[F.col(f"`{RAW}{name}`").alias(name) for name in RAW_NAMES]).alias("_raw"),
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
