"""Silver -> gold.lead_scores: each micro-batch scored and MERGEd by prospect_id, exactly once.

The newest event of a lead wins: within a batch only its latest event is scored (no double insert, no MERGE
multiple-match), and a late event older than the stored one never overwrites it. Each MERGE is tagged with its
(query, batch), so a micro-batch replayed after a crash finds its MERGE committed and neither changes the table nor
adds a version. The MERGE is SQL, which runs the same on a classic session, over Spark Connect and on Databricks.
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
from leadscore.monitoring import batches
from leadscore.schema import KEY
from leadscore.scoring import score
from leadscore.streams import BatchCommits, QueryLock, trigger

log = logging.getLogger("leadscore")

# What an agent reads beside the score; the lead's identity and contact preferences come first.
AGENT_FEATURES = ("lead_capture_channel", "referral_source", "last_action", "total_visits", "total_browsing_time")
# The incoming event is newer than the stored one (silver.ORDER: landing time, then file, then line).
NEWER = (
    "s.event_ts > t.event_ts OR (s.event_ts = t.event_ts AND "
    "(s.event_file > t.event_file OR (s.event_file = t.event_file AND s.event_seq > t.event_seq)))"
)
# A batch of at most this many leads names them in the MERGE condition: Delta then skips the files whose
# prospect_id statistics rule them out instead of joining the batch with every file of the table.
PRUNING_LEADS = 2_000
BATCH_VIEW = "leadscore_scored_batch"


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
        "event_file",
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
    config.table("lead_scores").create_if_missing(spark, lead_score_rows(unscored, "", 0).schema)


def merge(spark: SparkSession, config: Config, rows: DataFrame, leads: list[str] | None = None) -> None:
    """MERGE of one row per lead into lead_scores; `leads` (the rows' prospect ids, when few) prunes the files read.

    `rows` should be materialised: the MERGE reads its source twice (the session does not make it copy it again).
    """
    on = "t.prospect_id = s.prospect_id"
    if leads:
        on += f" AND t.prospect_id IN ({', '.join(_sql_string(lead) for lead in leads)})"
    rows.createOrReplaceTempView(BATCH_VIEW)
    try:
        spark.sql(
            f"MERGE INTO {config.table('lead_scores').sql_name} t USING {BATCH_VIEW} s ON {on} "
            f"WHEN MATCHED AND ({NEWER}) THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
        )
    finally:
        spark.catalog.dropTempView(BATCH_VIEW)


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ScoreBatch:
    """foreachBatch: the latest event per lead, scored and MERGEd into lead_scores once."""

    def __init__(self, config: Config, commits: BatchCommits):
        self.config = config
        self.commits = commits
        self.model = AliasedModel(config, CHAMPION)  # follows the champion between micro-batches
        self.challenger = AliasedModel(config, CHALLENGER, required=False) if config.stream.shadow_challenger else None

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.perf_counter()
        spark = batch.sparkSession
        table = self.config.table("lead_scores")
        merged = self.commits.committed(spark, table, batch_id)
        if merged is None:
            self.model.refresh()
            observed = batches.ObservedFigures(batch_id)
            latest = latest_per_lead(observed.events(batch))
            if self.challenger is not None:
                self.challenger.refresh()
                latest = self.challenger.shadow(latest)
            scored = score(self.model.model, latest, self.model.threshold, self.config.model.priority)
            rows = observed.leads(lead_score_rows(scored, self.model.version, batch_id)).localCheckpoint()
            leads = [row[0] for row in rows.select(KEY).limit(PRUNING_LEADS + 1).collect()]
            with self.commits.tagged(spark, batch_id):
                merge(spark, self.config, rows, leads if len(leads) <= PRUNING_LEADS else None)
            merged = self.commits.latest_commit(spark, table, batch_id)
            if merged is None:  # every event older than the lead's stored one: Delta commits no empty MERGE
                log.info("scores: batch %d: only late events, lead_scores unchanged", batch_id)
                return
            version, figures = self.model.version, observed.figures()
        else:  # a replay whose MERGE committed: its scored rows are in the version that MERGE made
            rows = table.read(spark, versionAsOf=str(merged["version"])).where(F.col("batch_id") == batch_id)
            version = rows.select("model_version").first()[0]
            figures = batches.batch_figures(batch, rows)
        self._record(spark, figures, merged, batch_id, str(version), time.perf_counter() - started)

    def _record(self, spark: SparkSession, figures: dict, merged, batch_id: int, version: str, seconds: float) -> None:
        """The batch's row in gold.scoring_batches (idempotent like the MERGE) and its log line."""
        if not figures["leads_merged"]:
            return
        record = batches.record(
            figures, merged.asDict(), query_id=self.commits.query_id(spark), batch_id=batch_id,
            model=(self.model.name, version), seconds=seconds,
        )  # fmt: skip
        self.commits.append(self.config.table("scoring_batches"), batches.as_frame(spark, record), batch_id)
        log.info(
            "scores: batch %d: %d leads merged into version %d; landing -> gold latency %.2fs (newest event) to "
            "%.2fs (oldest)",
            batch_id, figures["leads_merged"], merged["version"], record["latency_newest_s"],
            record["latency_oldest_s"],
        )  # fmt: skip


def start_stream(spark: SparkSession, config: Config, *, available_now: bool) -> StreamingQuery:
    checkpoint = config.checkpoint("lead_scores")
    QueryLock.acquire(checkpoint, "scores")
    create_table(spark, config)
    config.table("scoring_batches").create_if_missing(spark, batches.SCHEMA)
    handler = ScoreBatch(config, BatchCommits(checkpoint))
    handler.model.refresh()  # fail now, not at the first batch, when there is no champion
    writer = (
        config.table("silver_leads")
        .read_stream(spark, maxFilesPerTrigger=str(config.stream.max_files_per_trigger))
        .writeStream.queryName("scores")
        .foreachBatch(handler)
        .option("checkpointLocation", checkpoint)
    )
    return trigger(writer, available_now, config.stream.trigger_seconds).start()
