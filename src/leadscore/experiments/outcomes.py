"""Each lead of an experiment with the score agents acted on and its outcome, from gold.score_events and silver.

A lead's outcome is the label of its first labelled silver event. The score that counts is the lead's newest score
before that event (by ORDER): what its arm's model told agents while the outcome was still open. A lead whose every
score came after its outcome was known is not part of the comparison.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from leadscore.ingest.silver import ORDER
from leadscore.schema import KEY, LABEL

ACTED_ON = ("arm", "model_version", "score", "priority", "scored_at")


def _first(rows: DataFrame) -> DataFrame:
    earliest = Window.partitionBy(KEY).orderBy(*ORDER)
    return rows.withColumn("_rank", F.row_number().over(earliest)).where("_rank = 1").drop("_rank")


def outcomes(silver: DataFrame) -> DataFrame:
    """Per lead with a known outcome: the outcome (1.0 or 0.0) and the event it became known in."""
    labelled = _first(silver.where(F.col(LABEL).isNotNull()).select(KEY, LABEL, *ORDER))
    return labelled.select(
        KEY, F.col(LABEL).cast("double").alias("outcome"), *[F.col(c).alias(f"outcome_{c}") for c in ORDER]
    )


def _before_outcome() -> F.Column:
    ts, file, seq = ORDER
    o_ts, o_file, o_seq = (F.col(f"outcome_{c}") for c in ORDER)
    return (
        o_ts.isNull()
        | (F.col(ts) < o_ts)
        | ((F.col(ts) == o_ts) & ((F.col(file) < o_file) | ((F.col(file) == o_file) & (F.col(seq) < o_seq))))
    )


def acted_on(score_events: DataFrame, silver: DataFrame, experiment: str) -> DataFrame:
    """One row per lead of `experiment`: its arm, the model version, score, priority and time of the score acted
    on, and its outcome (null while unknown)."""
    scored = score_events.where(F.col("experiment") == experiment).select(KEY, *ACTED_ON, *ORDER)
    open_scores = scored.join(outcomes(silver), KEY, "left").where(_before_outcome())
    newest = Window.partitionBy(KEY).orderBy(*[F.desc(c) for c in ORDER])
    return (
        open_scores.withColumn("_rank", F.row_number().over(newest))
        .where("_rank = 1")
        .select(KEY, *ACTED_ON, "outcome")
    )
