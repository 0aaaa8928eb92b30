"""The drift reference: the champion model and the rows it learned from, found in MLflow.

`champion()` resolves conf's registered model at the `champion` alias, loads that version, and reads the
gold.training version its training run recorded (param `gold_training_version`), train split only: exactly the rows
the model was fitted on, whatever gold.training holds now.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.lifecycle import tracking
from leadscore.lifecycle.registry import CHAMPION, load, model_name, resolve


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
        """Lakehouse Monitoring's `model_id`: which registered model version the metrics are about."""
        return f"{self.name}/{self.version}"


def champion(spark: SparkSession, config: Config) -> Champion:
    """conf's registered model at the `champion` alias, and the gold.training rows its training run read."""
    client = tracking.client(config)
    found = resolve(client, model_name(config), alias=CHAMPION)
    loaded = load(client, config, found)
    params = client.get_run(found.run_id).data.params
    if "gold_training_version" not in params:
        raise LeadscoreError(
            f"run {found.run_id} of {found.name} version {found.version} names no gold_training_version"
        )
    table = config.table("gold_training")
    version = int(params["gold_training_version"])
    try:
        training = table.read(spark, versionAsOf=str(version)).where(F.col("split") == "train")
        training.schema  # noqa: B018 - resolves the version now, so a vacuumed one is named here
    except Exception as error:
        raise LeadscoreError(
            f"{table.logical} version {version} (the champion's training data) cannot be read"
        ) from error
    return Champion(
        name=found.name,
        version=str(found.version),
        model=loaded.model,
        threshold=loaded.threshold,
        features=tuple(params["features"].split(",")),
        training=training,
        training_table=table.location,
        training_version=version,
    )
