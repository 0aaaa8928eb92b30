"""Silver -> gold.lead_scores: each micro-batch scored and MERGEd by prospect_id, exactly once.

The newest event of a lead wins: within a batch only its latest event is scored (no double insert, no MERGE
multiple-match), and a late event older than the stored one never overwrites it. The batch's MERGE runs with
Delta's idempotent-write settings, so a replayed micro-batch neither changes the table nor adds a version.
"""

from __future__ import annotations

import logging
import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from leadscore.config import Config
from leadscore.gold import latest_per_lead
from leadscore.lifecycle.registry import CHALLENGER, CHAMPION
from leadscore.lifecycle.serving import AliasedModel, shadow_columns
from leadscore.schema import KEY
from leadscore.scoring import score
from leadscore.streams import QueryIdentity, trigger

log = logging.getLogger("leadscore")

# What an agent reads beside the score; the lead's identity and contact preferences come first.
AGENT_FEATURES = ("lead_capture_channel", "referral_source", "last_action", "total_visits", "total_browsing_time")
TABLE_PROPERTIES = {
    "delta.enableChangeDataFeed": "true",  # the CRM sync reads the table's changes
    "delta.enableDeletionVectors": "true",  # an update marks the old row instead of rewriting its file
}
NEWER = "s.event_ts > t.event_ts OR (s.event_ts = t.event_ts AND s.event_seq > t.event_seq)"


def lead_score_rows(scored: DataFrame, model_version: str, batch_id: int) -> DataFrame:
    """Scored silver rows -> the lead_scores columns."""
    return scored.select(
        "prospect_id",
        "lead_number",
        "score",
        "prediction",
        "priority",
        *AGENT_FEATURES,
        "opted_out_call",
        "opted_out_email",
        F.lit(model_version).alias("model_version"),
        *shadow_columns(scored),
        "event_ts",
        "event_seq",
        F.current_timestamp().alias("scored_at"),
        F.lit(batch_id).cast("long").alias("batch_id"),
    )


def create_table(spark: SparkSession, config: Config) -> None:
    unscored = (
        config.table("silver_leads")
        .read(spark)
        .limit(0)
        .select("*", F.lit(0.0).alias("score"), F.lit(False).alias("prediction"), F.lit("").alias("priority"))
    )
    config.table("lead_scores").create_if_missing(spark, lead_score_rows(unscored, "", 0).schema, TABLE_PROPERTIES)


def merge(spark: SparkSession, config: Config, rows: DataFrame) -> None:
    (
        config.table("lead_scores")
        .delta(spark)
        .alias("t")
        .merge(rows.alias("s"), "t.prospect_id = s.prospect_id")
        .whenMatchedUpdateAll(condition=NEWER)
        .whenNotMatchedInsertAll()
        .execute()
    )


class ScoreBatch:
    """foreachBatch: the latest event per lead, scored and MERGEd into lead_scores once."""

    def __init__(self, config: Config, identity: QueryIdentity):
        self.config = config
        self.identity = identity
        self.model = AliasedModel(config, CHAMPION)  # follows the champion between micro-batches
        self.challenger = AliasedModel(config, CHALLENGER, required=False) if config.stream.shadow_challenger else None

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        self.model.refresh()
        latest = latest_per_lead(batch)
        if self.challenger is not None:
            self.challenger.refresh()
            latest = self.challenger.shadow(latest)
        scored = score(self.model.model, latest, self.model.threshold, self.config.model.priority)
        with self.identity.idempotent_session(batch, batch_id) as session:
            merge(session, self.config, lead_score_rows(scored, self.model.version, batch_id))
        if not log.isEnabledFor(logging.INFO):
            return  # the figures below are a Spark job of their own, run only for the log line
        # From the batch's own files (three columns), not the scored rows: the MERGE materialises its source
        # itself, so counting those would score the batch a second time (17.7 s of a 1M-lead drain).
        leads, oldest, newest = batch.agg(F.count_distinct(KEY), F.min("event_ts"), F.max("event_ts")).first()
        if leads:
            now = time.time()
            log.info(
                "scores: batch %d: %d leads merged; landing -> gold latency %.2fs (newest event) to %.2fs (oldest)",
                batch_id, leads, now - newest.timestamp(), now - oldest.timestamp(),
            )  # fmt: skip


def start_stream(spark: SparkSession, config: Config, *, available_now: bool) -> StreamingQuery:
    create_table(spark, config)
    checkpoint = config.checkpoint("lead_scores")
    handler = ScoreBatch(config, QueryIdentity(checkpoint))
    handler.model.refresh()  # fail now, not at the first batch, when there is no champion
    writer = (
        config.table("silver_leads")
        .read_stream(spark, maxFilesPerTrigger=str(config.stream.max_files_per_trigger))
        .writeStream.queryName("scores")
        .foreachBatch(handler)
        .option("checkpointLocation", checkpoint)
    )
    return trigger(writer, available_now, config.stream.trigger_seconds).start()
