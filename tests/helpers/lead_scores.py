"""A small gold.lead_scores written as the scores stream writes it: one MERGE per micro-batch, one version each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyspark.sql import SparkSession

from leadscore.config import Config
from leadscore.scoring.merge import merge
from leadscore.streaming.commits import USER_METADATA
from tests.helpers.lakehouse import without_auto_compaction

LEAD_SCORES_SCHEMA = (
    "prospect_id string, lead_number int, score double, prediction boolean, priority string, "
    "lead_capture_channel string, referral_source string, last_action string, total_visits int, "
    "total_browsing_time int, opted_out_call boolean, opted_out_email boolean, model_version string, "
    "challenger_score double, challenger_version string, event_ts timestamp, event_file string, event_seq long, "
    "scored_at timestamp, batch_id long, _ingested_at timestamp"
)
# score_events: a lead_scores row and the ingest batch that wrote the event.
SCORE_EVENTS_SCHEMA = f"{LEAD_SCORES_SCHEMA}, _ingest_query_id string, _ingest_batch_id long"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def lead(key: str, number: int, score: float, priority: str, opted_out_call: bool | None, batch: int) -> tuple:
    """A lead_scores row: what the tests vary, the rest filled in plausibly."""
    at = T0 + timedelta(minutes=batch)
    return (
        key, number, score, score >= 0.5, priority, "Landing Page Submission", "Google", "Email Opened",
        batch + 2, 100 * batch, opted_out_call, False, "3", None, None, at, f"landing/{batch}.csv", number, at, batch,
        at,
    )  # fmt: skip


# The stream's micro-batches: version 1 inserts 4 leads; version 2 moves a's score, raises c to hot, adds e and
# receives d's event again (not newer: left as it is); version 3 updates b and adds f, whose call preference is unknown.
BATCHES = (
    [
        lead("a", 1, 0.91, "hot", False, 1),
        lead("b", 2, 0.95, "hot", True, 1),
        lead("c", 3, 0.55, "warm", False, 1),
        lead("d", 4, 0.20, "cold", False, 1),
    ],
    [
        lead("a", 1, 0.93, "hot", False, 2),
        lead("c", 3, 0.75, "hot", False, 2),
        lead("d", 4, 0.20, "cold", False, 1),
        lead("e", 5, 0.80, "hot", False, 2),
    ],
    [lead("b", 2, 0.97, "hot", True, 3), lead("f", 6, 0.99, "hot", None, 3)],
)


def build_lead_scores(
    spark: SparkSession, config: Config, batches: tuple[list[tuple], ...], tags: list[str] | None = None
) -> None:
    """One MERGE per batch, one version each; `tags`, when given, are the MERGEs' userMetadata (what the scores stream
    writes there)."""
    config.table("lead_scores").create_if_missing(spark, spark.createDataFrame([], LEAD_SCORES_SCHEMA).schema)
    for batch_id, rows in enumerate(batches):
        if tags:
            spark.conf.set(USER_METADATA, tags[batch_id])
        try:
            with without_auto_compaction(spark):
                merge(spark, config, spark.createDataFrame(rows, LEAD_SCORES_SCHEMA))
        finally:
            spark.conf.unset(USER_METADATA)


def lead_scores_columns() -> list[str]:
    return [column.split()[0] for column in LEAD_SCORES_SCHEMA.split(", ")]
