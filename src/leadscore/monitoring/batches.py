"""gold.scoring_batches: one row per scores micro-batch, what the console's pipeline-health page charts.

The scores stream writes it right after its MERGE, tagged with the same (query, batch) as the MERGE, so a batch
replayed after a crash adds no second row. Two small Spark jobs a batch: the batch's events and the scored leads.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
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


def batch_figures(batch: DataFrame, scored_leads: DataFrame) -> dict:
    """The batch's events (silver rows) and its scored leads (one row each, with `score` and `priority`)."""
    events, oldest, newest = batch.agg(F.count(F.lit(1)), F.min("event_ts"), F.max("event_ts")).first()
    leads, quantiles, hot, warm, cold = scored_leads.agg(
        F.count(KEY),
        F.percentile_approx("score", [0.1, 0.5, 0.9]),
        *[F.count_if(F.col("priority") == band) for band in ("hot", "warm", "cold")],
    ).first()
    p10, p50, p90 = quantiles or (None, None, None)
    return {"events": events, "oldest_event_ts": oldest, "newest_event_ts": newest, "leads_merged": leads,
            "score_p10": p10, "score_p50": p50, "score_p90": p90, "hot": hot, "warm": warm, "cold": cold}  # fmt: skip


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
