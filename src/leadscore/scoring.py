"""Scores from a fitted pipeline: the one transform batch scoring, the stream and training's evaluation share."""

from __future__ import annotations

from pyspark.ml import PipelineModel
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# What `score` adds to its input's columns.
SCORE_COLUMNS = ("score", "prediction", "priority")


def with_score(model: PipelineModel, df: DataFrame) -> DataFrame:
    """The input's columns plus `score`, the probability of contacting an agent; the pipeline's working columns go."""
    probability = vector_to_array(F.col("probability"))[1]
    return model.transform(df).select(*[F.col(f"`{c}`") for c in df.columns], probability.alias("score"))


def score(model: PipelineModel, silver_df: DataFrame, threshold: float, priority: dict[str, float]) -> DataFrame:
    """Adds `score`, `prediction` (score >= threshold) and `priority` (hot / warm / cold by the conf's bands)."""
    scored = with_score(model, silver_df)
    value = F.col("score")
    band = F.when(value >= priority["hot"], "hot").when(value >= priority["warm"], "warm").otherwise("cold")
    return scored.withColumn("prediction", value >= F.lit(threshold)).withColumn("priority", band)
