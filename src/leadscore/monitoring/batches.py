"""gold.scoring_batches: one row per scores micro-batch, what the console's pipeline-health page charts.

The scores stream writes it right after its MERGE, tagged with the same (query, batch) as the MERGE, so a batch
replayed after a crash adds no second row. Its figures are observed while the batch is scored (`ObservedFigures`).
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from leadscore.schema import KEY

SCHEMA = T.StructType(
    [
        T.StructField("query_id", T.StringType()),
        T.StructField("batch_id", T.LongType()),
        T.StructField("committed_at", T.TimestampType()),
        T.StructField("lead_scores_version", T.LongType()),
        T.StructField("events", T.LongType()),
        T.StructField("leads_merged", T.LongType()),
        T.StructField("leads_inserted", T.LongType()),
        T.StructField("leads_updated", T.LongType()),
        T.StructField("oldest_event_ts", T.TimestampType()),
        T.StructField("newest_event_ts", T.TimestampType()),
        T.StructField("latency_oldest_s", T.DoubleType()),
        T.StructField("latency_newest_s", T.DoubleType()),
        T.StructField("model_name", T.StringType()),
        T.StructField("model_version", T.StringType()),
        T.StructField("score_p10", T.DoubleType()),
        T.StructField("score_p50", T.DoubleType()),
        T.StructField("score_p90", T.DoubleType()),
        T.StructField("hot", T.LongType()),
        T.StructField("warm", T.LongType()),
        T.StructField("cold", T.LongType()),
        T.StructField("batch_seconds", T.DoubleType()),
    ]
)


EVENT_TIMES = ("oldest_event_ts", "newest_event_ts")


def _event_figures() -> list[Column]:
    """The batch's events (silver rows): how many, the oldest and the newest (in epoch microseconds: an observed
    timestamp reaches Python as a Java object)."""
    return [
        F.count(F.lit(1)).alias("events"),
        *[F.unix_micros(edge("event_ts")).alias(name) for edge, name in zip((F.min, F.max), EVENT_TIMES, strict=True)],
    ]


def _figures(events: dict, leads: dict) -> dict:
    times = {name: None if events[name] is None else datetime.fromtimestamp(events[name] / 1e6) for name in EVENT_TIMES}
    return {**events, **times, **leads}


def _lead_figures() -> list[Column]:
    """The batch's scored leads (one row each, with `score` and `priority`)."""
    return [
        F.count(KEY).alias("leads_merged"),
        *[F.percentile_approx("score", q / 100).alias(f"score_p{q}") for q in (10, 50, 90)],
        *[F.count_if(F.col("priority") == band).alias(band) for band in ("hot", "warm", "cold")],
    ]


class ObservedFigures:
    """The batch's figures, observed while the batch is scored: no Spark job of their own (two a batch otherwise).

    `events` goes on the batch's silver rows, `leads` on the scored rows; `figures` is ready once an action has run
    over both (the scored rows' `localCheckpoint`).
    """

    def __init__(self, batch_id: int):
        self._events = Observation(f"scoring_batch_events_{batch_id}")
        self._leads = Observation(f"scoring_batch_leads_{batch_id}")

    def events(self, batch: DataFrame) -> DataFrame:
        return batch.observe(self._events, *_event_figures())

    def leads(self, scored_leads: DataFrame) -> DataFrame:
        return scored_leads.observe(self._leads, *_lead_figures())

    def figures(self) -> dict:
        return _figures(self._events.get, self._leads.get)


def batch_figures(batch: DataFrame, scored_leads: DataFrame) -> dict:
    """The same figures, each computed by a job of its own: for a replayed batch, whose leads are read back."""
    return _figures(batch.agg(*_event_figures()).first().asDict(), scored_leads.agg(*_lead_figures()).first().asDict())


def record(
    figures: dict, merge_commit: dict, *, query_id: str, batch_id: int, model: tuple[str, str], seconds: float
) -> dict:
    """The batch's row (SCHEMA's fields): its figures, and what the MERGE's commit (a `DESCRIBE HISTORY` row) says."""
    committed: datetime = merge_commit["timestamp"]
    metrics = merge_commit["operationMetrics"] or {}

    def latency(event: datetime | None) -> float | None:
        return None if event is None else round((committed - event).total_seconds(), 3)

    row = {
        **figures,
        "query_id": query_id,
        "batch_id": batch_id,
        "committed_at": committed,
        "lead_scores_version": merge_commit["version"],
        "leads_inserted": int(metrics.get("numTargetRowsInserted", 0)),
        "leads_updated": int(metrics.get("numTargetRowsUpdated", 0)),
        "latency_oldest_s": latency(figures["oldest_event_ts"]),
        "latency_newest_s": latency(figures["newest_event_ts"]),
        "model_name": model[0],
        "model_version": model[1],
        "batch_seconds": round(seconds, 3),
    }
    return row


def as_frame(spark: SparkSession, record: dict) -> DataFrame:
    return spark.createDataFrame([tuple(record[f.name] for f in SCHEMA.fields)], SCHEMA)
