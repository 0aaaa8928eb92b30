"""Silver -> gold training table: each lead's latest state, labelled, with a split that never moves.

The split is a hash of `prospect_id`, not a random draw: a lead keeps its split across runs and as data grows, so
no lead seen in training today lands in tomorrow's test set.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from leadscore.config import Config
from leadscore.ingest.silver import ORDER, latest_per_lead
from leadscore.schema import COLUMNS, KEY, LABEL

SPLITS = ("train", "validation", "test")

log = logging.getLogger("leadscore")


def split_of(key: str, split: dict[str, int]) -> F.Column:
    """train / validation / test by a bucket 0-99 of the key's hash, against the configured percentages."""
    bucket = F.pmod(F.xxhash64(F.col(key)), F.lit(100))
    train, validation = split["train"], split["train"] + split["validation"]
    return F.when(bucket < train, "train").when(bucket < validation, "validation").otherwise("test")


def training_table(silver_df: DataFrame, split: dict[str, int]) -> DataFrame:
    """Labelled leads in their latest state: the 37 columns, the event order and `split`.

    A lead whose latest event has no label is left out: its outcome is not known now, whatever an older event said.
    """
    return (
        latest_per_lead(silver_df)
        .where(F.col(LABEL).isNotNull())
        .select(*[c.name for c in COLUMNS], *ORDER, split_of(KEY, split).alias("split"))
    )


def write_training(spark: SparkSession, config: Config) -> dict[str, int]:
    """Rebuilds gold_training from silver (overwrite) and returns its row count per split."""
    table = config.table("gold_training")
    rows = training_table(config.table("silver_leads").read(spark), config.model.split)
    table.save(rows.write.mode("overwrite").option("overwriteSchema", "true"))
    counts = dict(table.read(spark).groupBy("split").count().collect())
    log.info("gold: %s leads in %s", sum(counts.values()), table.location)
    return {name: counts.get(name, 0) for name in SPLITS}
