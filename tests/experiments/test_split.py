"""The split of leads into arms: close to the configured share, stable per lead, independent across salts."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import functions as F

from leadscore.experiments.split import arm_of
from leadscore.synthetic.generator import uuid4_strings

LEADS = 100_000


def arms(spark, ids, salt: str, share: float):
    leads = spark.createDataFrame(pd.DataFrame({"prospect_id": ids}))
    return leads.select("prospect_id", arm_of(F.col("prospect_id"), salt, share).alias("arm"))


def test_the_challenger_share_is_within_a_point_and_a_lead_keeps_its_arm(spark):
    ids = uuid4_strings(np.random.default_rng(2), LEADS).tolist()
    split = arms(spark, ids, "spring", 0.1).cache()
    share = split.filter("arm = 'challenger'").count() / LEADS
    assert abs(share - 0.1) < 0.01, share
    # the same leads again, in another order and partitioning: every one lands where it did
    again = arms(spark, list(reversed(ids)), "spring", 0.1).repartition(3)
    assert split.join(again.withColumnRenamed("arm", "again"), "prospect_id").filter("arm != again").count() == 0
    # another salt is another, independent draw: about 0.1 x 0.1 of leads are challengers in both
    other = arms(spark, ids, "autumn", 0.1).withColumnRenamed("arm", "other")
    both = split.join(other, "prospect_id").filter("arm = 'challenger' and other = 'challenger'").count() / LEADS
    assert abs(both - 0.01) < 0.003, both
    split.unpersist()


def test_no_share_and_a_whole_share_put_every_lead_in_one_arm(spark):
    ids = uuid4_strings(np.random.default_rng(4), 1000).tolist()
    assert {r["arm"] for r in arms(spark, ids, "s", 0.0).collect()} == {"champion"}
    assert {r["arm"] for r in arms(spark, ids, "s", 1.0).collect()} == {"challenger"}
