"""The drift reference: the champion model and the rows it learned from.

This module is the one seam between monitoring and the model registry: `champion()` is all the monitor asks of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from leadscore import registry
from leadscore.config import Config
from leadscore.errors import LeadscoreError


@dataclass(frozen=True)
class Champion:
    name: str
    version: str
    model: PipelineModel
    threshold: float
    features: tuple[str, ...]
    training: DataFrame  # the train split it was fitted on
    training_table: str
    training_version: int

    @property
    def model_id(self) -> str:
        """Lakehouse Monitoring's `model_id`: which model version the metrics are about."""
        return f"{self.name}/{self.version}"


def champion(spark: SparkSession, config: Config) -> Champion:
    """The model the scores stream serves (the version CURRENT names) and the gold_training version it was fitted
    on: the last one committed before the model was published (training rewrites gold_training, then fits)."""
    version = registry.current_version(config)
    if version is None:
        raise LeadscoreError(f"no current model under {registry.model_root(config)}: run `leadscore train` first")
    model, metrics = registry.load_model(spark, config, version)
    table = config.table("gold_training")
    if not table.exists(spark):
        raise LeadscoreError(f"no {table.logical} table at {table.location}: run `leadscore train` first")
    published = datetime.fromisoformat(metrics["created_at"])
    history = table.delta(spark).history().where(F.col("timestamp") <= F.lit(published))
    latest = history.agg(F.max("version")).first()[0]
    if latest is None:
        raise LeadscoreError(f"{table.logical} has no version older than model {version} ({published})")
    training = table.read(spark, versionAsOf=str(latest)).where(F.col("split") == "train")
    return Champion(
        name=config.model.name,
        version=version,
        model=model,
        threshold=metrics["threshold"],
        features=tuple(metrics["features"]),
        training=training,
        training_table=table.location,
        training_version=int(latest),
    )
