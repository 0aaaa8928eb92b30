"""Time travel on gold.lead_scores: what it says now, what it said at a version or a time, and what changed; and the
agents' view now (the live view over lead_scores and score_events).

Every stream micro-batch is one MERGE, so one Delta version; any of them reads back with `versionAsOf` or
`timestampAsOf`. The transformations are pure DataFrame functions; reading a version, collecting and rendering
rows are the edges.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.output import rows_of
from leadscore.schema import KEY
from leadscore.scoring import live_view
from leadscore.tables import Table

HISTORY_COLUMNS = ("version", "timestamp", "operation", "rows_inserted", "rows_updated")
# What `--format table` shows of a score (csv and json carry every column): what an agent reads, and its lineage.
SCORE_VIEW = (
    "prospect_id", "lead_number", "score", "priority", "prediction", "last_action", "total_visits",
    "total_browsing_time", "opted_out_call", "model_version", "event_ts",
)  # fmt: skip
QUEUE_COLUMNS = (
    "prospect_id", "lead_number", "score", "lead_capture_channel", "referral_source", "last_action",
    "total_visits", "total_browsing_time", "opted_out_email", "event_ts",
)  # fmt: skip


def version_history(history_df: DataFrame) -> DataFrame:
    """DESCRIBE HISTORY reduced to what changed, newest first: a MERGE reports target rows inserted and updated,
    a plain write its output rows; an operation that moves no rows (CREATE TABLE, OPTIMIZE) reports 0."""
    metric = F.col("operationMetrics")
    inserted = F.coalesce(metric["numTargetRowsInserted"], metric["numOutputRows"], F.lit("0"))
    updated = F.coalesce(metric["numTargetRowsUpdated"], metric["numUpdatedRows"], F.lit("0"))
    return history_df.select(
        "version",
        "timestamp",
        "operation",
        inserted.cast("long").alias("rows_inserted"),
        updated.cast("long").alias("rows_updated"),
    ).orderBy(F.desc("version"))


def select_scores(scores_df: DataFrame, lead: str | None = None, top: int | None = None) -> DataFrame:
    """Highest score first, ties by prospect ID so output is stable; `lead` is a prospect ID or a lead number."""
    if lead is not None:
        scores_df = scores_df.where(F.col("lead_number") == int(lead) if lead.isdigit() else F.col(KEY) == lead)
    ranked = scores_df.orderBy(F.desc("score"), KEY)
    return ranked if top is None else ranked.limit(top)


def _side(scores_df: DataFrame, age: str) -> DataFrame:
    """One version's key, lead number, score and priority, named for its side of the comparison."""
    return scores_df.select(
        KEY,
        F.col("lead_number").alias(f"_{age}_lead_number"),
        F.col("score").alias(f"{age}_score"),
        F.col("priority").alias(f"{age}_priority"),
        F.lit(True).alias(f"_in_{age}"),
    )


def score_changes(old_df: DataFrame, new_df: DataFrame) -> DataFrame:
    """Leads whose score or priority differs between two versions of lead_scores, and leads added or removed.

    `change` is added, changed or removed; biggest score moves first, then added and removed leads.
    """
    old, new = _side(old_df, "old"), _side(new_df, "new")
    differs = ~F.col("old_score").eqNullSafe(F.col("new_score")) | ~F.col("old_priority").eqNullSafe(
        F.col("new_priority")
    )
    change = (
        F.when(F.col("_in_old").isNull(), "added").when(F.col("_in_new").isNull(), "removed").when(differs, "changed")
    )
    return (
        old.join(new, KEY, "full_outer")
        .select(
            KEY,
            F.coalesce("_new_lead_number", "_old_lead_number").alias("lead_number"),
            change.alias("change"),
            "old_score",
            "new_score",
            "old_priority",
            "new_priority",
        )
        .where(F.col("change").isNotNull())
        .orderBy(F.abs(F.col("new_score") - F.col("old_score")).desc_nulls_last(), "change", KEY)
    )


def agent_queue(scores_df: DataFrame, k: int) -> DataFrame:
    """The hot leads to call now, highest score first. A lead that opted out of calls is never listed, nor one
    whose choice is unknown: only an explicit `opted_out_call = false` may be called."""
    callable_hot = (F.col("priority") == "hot") & (F.col("opted_out_call") == F.lit(False))
    return scores_df.where(callable_hot).orderBy(F.desc("score"), KEY).limit(k).select(*QUEUE_COLUMNS)


def _require(spark: SparkSession, table: Table) -> None:
    if not table.exists(spark):
        raise LeadscoreError(f"no {table.logical} table at {table.location}: run `leadscore stream` first")


def history(spark: SparkSession, table: Table, limit: int | None = None) -> list[dict[str, Any]]:
    """The table's newest `limit` versions (all when None) as plain rows."""
    _require(spark, table)
    return rows_of(version_history(table.history(spark, limit)))


def _available(spark: SparkSession, table: Table) -> str:
    span = table.history(spark).agg(
        F.min("version").alias("first"),
        F.min_by("timestamp", "version").alias("first_at"),
        F.max("version").alias("last"),
        F.max_by("timestamp", "version").alias("last_at"),
    )
    return "it has version {first} ({first_at}) to version {last} ({last_at})".format(**rows_of(span)[0])


def read_live(spark: SparkSession, config: Config) -> DataFrame:
    """What agents see now: the live view (scoring.live_view) over lead_scores at its latest version and score_events
    past that version's high-water mark (read first: Delta then skips the files before it); lead_scores alone on a
    lakehouse no live query has written to."""
    lead_scores, score_events = config.table("lead_scores"), config.table("score_events")
    _require(spark, lead_scores)
    if not score_events.exists(spark):
        return lead_scores.read(spark)
    pinned = f"{lead_scores.sql_name} VERSION AS OF {lead_scores.latest_version(spark)}"
    return spark.sql(live_view.pinned_sql(pinned, score_events.sql_name, lambda sql: _mark(spark, sql)))


def _mark(spark: SparkSession, sql: str) -> datetime | None:
    micros = spark.sql(sql).select(F.unix_micros("mark")).first()[0]  # exact, whatever Python's time zone
    return None if micros is None else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def read_as_of(
    spark: SparkSession, table: Table, version: int | None = None, timestamp: str | None = None
) -> DataFrame:
    """The table now, or as it was at `version` or at `timestamp` (read in the session time zone).

    A version or time the table does not have is an error naming the range it has.
    """
    if version is not None and timestamp is not None:
        raise LeadscoreError("time travel takes a version or a timestamp, not both")
    _require(spark, table)
    if version is None and timestamp is None:
        return table.read(spark)
    try:
        return table.read(spark, **({"timestampAsOf": timestamp} if version is None else {"versionAsOf": str(version)}))
    except AnalysisException as error:
        if error.getCondition() == "DELTA_TIMESTAMP_INVALID":
            raise LeadscoreError(f"{timestamp!r} is not a timestamp: e.g. '2025-01-31 12:00:00'") from error
        raise LeadscoreError(
            f"{table.logical} cannot be read{as_of_text(version, timestamp)}: {_available(spark, table)}"
        ) from error


def as_of_text(version: int | None, timestamp: str | None) -> str:
    """' at version 3', ' as of 2025-01-31 12:00:00' or '' (now): how messages name the version asked for."""
    if version is not None:
        return f" at version {version}"
    return f" as of {timestamp}" if timestamp is not None else ""
