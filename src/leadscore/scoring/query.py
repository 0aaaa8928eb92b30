"""Silver -> gold.lead_scores: each micro-batch scored and MERGEd by prospect_id, exactly once.

The newest event of a lead wins: within a batch only its latest event's score is kept (no double insert, no MERGE
multiple-match), and a late event older than the stored one never overwrites it. Each MERGE is tagged with its
(query, batch), so a micro-batch replayed after a crash finds its MERGE committed and neither changes the table nor
adds a version. The MERGE is SQL, which runs the same on a classic session, over Spark Connect and on Databricks.
"""

from __future__ import annotations

import logging
import time

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from leadscore.config import Config
from leadscore.ingest.silver import latest_per_lead
from leadscore.monitoring import batches
from leadscore.schema import KEY
from leadscore.scoring.live import create_tables
from leadscore.scoring.merge import COMPACTION_SETTINGS, PRUNING_LEADS, lead_score_rows, write_scores
from leadscore.scoring.serving import SCORED_COLUMNS, Scorer
from leadscore.streaming.commits import BatchCommits
from leadscore.streaming.lock import QueryLock
from leadscore.streaming.queries import trigger

log = logging.getLogger("leadscore")


class ObservedFigures:
    """The batch's figures for its record (leadscore.monitoring.batches), observed while the batch is scored: no
    Spark job of their own. `events` goes on the batch's silver rows, `leads` on the scored rows (one per lead);
    `figures` is ready once an action has run over both (the scored rows' `localCheckpoint`)."""

    def __init__(self, batch_id: int):
        self._events = Observation(f"scoring_batch_events_{batch_id}")
        self._leads = Observation(f"scoring_batch_leads_{batch_id}")

    def events(self, batch: DataFrame) -> DataFrame:
        # Event times in epoch microseconds: an observed timestamp reaches Python as a Java object.
        times = [F.unix_micros(F.min("event_ts")), F.unix_micros(F.max("event_ts"))]
        return batch.observe(
            self._events,
            F.count(F.lit(1)).alias("events"),
            times[0].alias("oldest_event_us"),
            times[1].alias("newest_event_us"),
        )

    def leads(self, scored_leads: DataFrame) -> DataFrame:
        figures: list[Column] = [
            F.count(KEY).alias("leads_merged"),
            *[F.percentile_approx("score", q / 100).alias(f"score_p{q}") for q in (10, 50, 90)],
            *[F.count_if(F.col("priority") == band).alias(band) for band in ("hot", "warm", "cold")],
        ]
        return scored_leads.observe(self._leads, *figures)

    def figures(self) -> dict:
        return {**self._events.get, **self._leads.get}


class ScoreBatch:
    """foreachBatch: the batch's events scored, the latest per lead MERGEd into lead_scores once, the MERGE's commit
    carrying the batch's record.

    The events come scored by the query's own plan (`in_plan`): Spark builds that plan once a run, where scoring
    each micro-batch's DataFrame would analyse the pipeline's stages again every batch. A batch that finds the
    champion or the challenger changed since the query started scores its events again with them, as every batch of
    the query will until a restart builds its plan with them.
    """

    def __init__(self, config: Config, commits: BatchCommits):
        self.config = config
        self.commits = commits
        self.scorer = Scorer(config)  # follows the champion between micro-batches
        self._planned: tuple[str | None, str | None] | None = None  # the versions the query's plan scores with

    def in_plan(self, events: DataFrame) -> DataFrame:
        """The silver stream scored in its own plan, by the models the aliases name now; fails at once, not at the
        first batch, when there is no champion."""
        self.scorer.refresh()
        self._planned = self.scorer.versions
        return self.scorer.scored(events)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.time()
        spark = batch.sparkSession
        replayed = self.commits.committed(spark, self.config.table("lead_scores"), batch_id)
        if replayed is not None:  # its MERGE committed before a crash: scores and record are in that version
            log.info("scores: batch %d: already merged into version %d", batch_id, replayed["version"])
            return
        self.scorer.refresh()
        champion = self.scorer.champion
        observed = ObservedFigures(batch_id)
        scored = observed.events(batch)
        if self.scorer.versions != self._planned:  # a model changed while the query ran: its plan's scores are stale
            scored = self.scorer.scored(scored.drop(*SCORED_COLUMNS))
        latest = latest_per_lead(lead_score_rows(scored, champion.version, batch_id))
        rows = observed.leads(latest).localCheckpoint()
        leads = [row[0] for row in rows.select(KEY).limit(PRUNING_LEADS + 1).collect()]  # named if few
        if not leads:  # silver files without rows (a batch whose rows all went to quarantine): nothing to score
            return
        figures = observed.figures()
        record = batches.commit_record(figures, (champion.name, champion.version), int(started * 1e6))
        with self.commits.tagged(spark, batch_id, {batches.RECORD: record}):
            written = write_scores(spark, self.config, rows, leads)
        # A batch of late events only (each older than its lead's stored one) commits nothing: Delta makes no empty
        # MERGE version, so it leaves no record either.
        now = time.time()
        log.info(
            "scores: batch %d: %d events, %d leads scored by %s version %s (%s) in %.2fs; %.2fs after its newest "
            "event landed",
            batch_id, figures["events"], figures["leads_merged"], champion.name, champion.version, written,
            now - started, now - figures["newest_event_us"] / 1e6,
        )  # fmt: skip


def start(spark: SparkSession, config: Config, *, available_now: bool) -> StreamingQuery:
    checkpoint = config.checkpoint("lead_scores")
    QueryLock.acquire(checkpoint, "scores")
    for key, value in COMPACTION_SETTINGS.items():  # the session's own: every MERGE of the query compacts in it
        spark.conf.set(key, value)
    create_tables(spark, config)
    handler = ScoreBatch(config, BatchCommits(checkpoint))
    silver = config.table("silver_leads")
    events = silver.read_stream(spark, maxFilesPerTrigger=str(config.stream.max_files_per_trigger))
    writer = (
        handler.in_plan(events)
        .writeStream.queryName("scores")
        .foreachBatch(handler)
        .option("checkpointLocation", checkpoint)
    )
    return trigger(writer, available_now, config.stream.merge_every_seconds).start()
