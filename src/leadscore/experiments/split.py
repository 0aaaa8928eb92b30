"""Which arm a lead is in: a stable hash of its prospect id and the experiment's salt, so every event of a lead, in
every process and after any restart, lands in the same arm, and another salt draws an independent split."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from leadscore.experiments.figures import CHALLENGER, CHAMPION

BUCKETS = 10_000  # the share's resolution: 0.01%


def arm_of(prospect_id: Column, salt: str, challenger_share: float) -> Column:
    """'challenger' for about `challenger_share` of leads, 'champion' for the rest."""
    bucket = F.pmod(F.xxhash64(F.lit(salt), prospect_id), F.lit(BUCKETS))
    return F.when(bucket < round(challenger_share * BUCKETS), F.lit(CHALLENGER)).otherwise(F.lit(CHAMPION))
