"""Live scoring: an ingest micro-batch's new silver rows scored by the champion and appended to gold.score_events in
that same micro-batch (leadscore.ingest.query), where the agents' view (live_view) shows them seconds after they
land; gold.lead_scores takes them on the scores query's own, slower cadence (leadscore.scoring.query).
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from leadscore.config import Config
from leadscore.schema import KEY, ORDER
from leadscore.scoring import live_view
from leadscore.scoring.merge import lead_score_rows
from leadscore.scoring.serving import SCORED_COLUMNS, Scorer
from leadscore.tables import INGEST_LINEAGE

log = logging.getLogger("leadscore")


def score_event_rows(scored: DataFrame, model_version: str) -> DataFrame:
    """Scored silver rows of an ingest batch -> score_events' columns: a lead_scores row, scored when the batch
    ingested it and numbered by it, and the ingest batch that wrote the event."""
    return lead_score_rows(scored, model_version, F.col("_ingest_batch_id"), F.col("_ingested_at"), keep=INGEST_LINEAGE)


class LiveScores:
    """The champion a live query scores its batches with, followed between micro-batches.

    The stream's rows are scored in the query's own plan (`in_plan`), which Spark analyses once a run: scoring each
    batch's DataFrame analysed the pipeline's stages again at every batch. A batch that finds the champion (or the
    challenger) changed since the query started scores its rows again with the new one. Until a version holds the
    alias (a lakehouse whose history is ingested before its first training) the query ingests without scoring, and
    lead_scores takes those events when the scores query runs.
    """

    def __init__(self, config: Config):
        self.scorer = Scorer(config, required=False)
        self._planned: tuple[str | None, str | None] | None = None  # the versions the query's plan scores with
        self._waiting_said = False

    def prepare(self, spark: SparkSession, config: Config) -> None:
        """Before the query starts: the tables it writes, and the champion loaded."""
        create_tables(spark, config)
        self.scorer.refresh()

    def in_plan(self, rows: DataFrame) -> DataFrame:
        """The stream's rows scored in its plan by the models loaded now (as they are, without a champion)."""
        if not self.scorer.ready:
            return rows
        self._planned = self.scorer.versions
        return self.scorer.scored(rows)

    def rows(self, silver_rows: DataFrame) -> DataFrame | None:
        """A batch's silver rows (stamped by the ingest batch) as score_events rows, or None while there is no
        champion."""
        self.scorer.refresh()
        if not self.scorer.ready:
            if not self._waiting_said:
                log.info("ingest: no %s champion yet: events are not scored live", self.scorer.champion.name)
                self._waiting_said = True
            return None
        self._waiting_said = False
        if self.scorer.versions != self._planned:  # no model, or another one, when the query's plan was built
            silver_rows = self.scorer.scored(silver_rows.drop(*SCORED_COLUMNS))
        return score_event_rows(silver_rows, self.scorer.champion.version)


def create_tables(spark: SparkSession, config: Config) -> None:
    """lead_scores and score_events, with the columns their writers produce from silver's (silver must exist), and,
    on Databricks, the agents' view over them in the schema. A lead_scores made before `_ingested_at` was one of its
    columns gets it (null in its rows, which only lowers the high-water mark)."""
    unscored = (
        config.table("silver_leads")
        .read(spark)
        .limit(0)
        .select("*", F.lit(0.0).alias("score"), F.lit(False).alias("prediction"), F.lit("").alias("priority"))
    )
    lead_scores, score_events = config.table("lead_scores"), config.table("score_events")
    rows = lead_score_rows(unscored, "", 0)
    lead_scores.create_if_missing(spark, rows.schema)
    held = set(lead_scores.read(spark).columns)
    missing = [field for field in rows.schema.fields if field.name not in held]
    if missing:
        added = ", ".join(f"{field.name} {field.dataType.simpleString()}" for field in missing)
        spark.sql(f"ALTER TABLE {lead_scores.sql_name} ADD COLUMNS ({added})")
    score_events.create_if_missing(spark, score_event_rows(unscored, "").schema)
    if not lead_scores.by_path:
        view, mark = config.table("lead_scores_live"), f"({live_view.mark_sql(lead_scores.sql_name)})"
        spark.sql(
            f"CREATE OR REPLACE VIEW {view.sql_name} AS "
            + live_view.live_sql(lead_scores.sql_name, score_events.sql_name, mark)
        )


def visibility(spark: SparkSession, config: Config) -> DataFrame:
    """Per scored event: when its file landed (`event_ts`), when agents could see it (`visible_at`: the commit of
    score_events that holds it) and when lead_scores took it (`merged_at`: its MERGE's commit; null for an event
    that was late, or not MERGEd yet). Read from both tables' change data feeds."""
    event = [KEY, *ORDER]

    def committed(logical: str, change_types: tuple[str, ...], name: str) -> DataFrame:
        changes = config.table(logical).read(spark, readChangeFeed="true", startingVersion="0")
        return (
            changes.where(F.col("_change_type").isin(*change_types))
            .groupBy(*event)
            .agg(F.min("_commit_timestamp").alias(name))
        )

    visible = committed("score_events", ("insert",), "visible_at")
    merged = committed("lead_scores", ("insert", "update_postimage"), "merged_at")
    return visible.join(merged, event, "left").select(*event, "visible_at", "merged_at")
