"""A score as agents read it: the probability, its prediction at the model's threshold and its priority band."""

from __future__ import annotations

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from leadscore.training.evaluation import with_score

# What `score` adds to its input's columns.
SCORE_COLUMNS = ("score", "prediction", "priority")


def score(model: PipelineModel, silver_df: DataFrame, threshold: float, priority: dict[str, float]) -> DataFrame:
    """Adds `score`, `prediction` (score >= threshold) and `priority` (hot / warm / cold by the conf's bands)."""
    scored = with_score(model, silver_df)
    value = F.col("score")
    band = F.when(value >= priority["hot"], "hot").when(value >= priority["warm"], "warm").otherwise("cold")
    return scored.withColumn("prediction", value >= F.lit(threshold)).withColumn("priority", band)
