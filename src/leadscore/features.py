"""Spark ML feature stages for a feature set: every step from raw silver columns to one vector lives in the pipeline.

So the saved PipelineModel scores raw silver rows (batch, stream or a one-off export) with exactly the
engineering it was trained with, and a category never seen in training scores instead of failing.
Intermediate columns are named `<silver column>__<step>`, which lets importances be traced back to their column.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.ml.base import Estimator, Transformer
from pyspark.ml.feature import Bucketizer, Imputer, OneHotEncoder, SQLTransformer, StringIndexer, VectorAssembler

from leadscore.schema import BY_NAME

FEATURES = "features"
MISSING = "missing"  # an unanswered categorical is a category of its own: on this data it predicts the outcome
VISITS = "total_visits"
# Columns the sales team fills in, or that log its contact with the lead (an SMS sent, a call, "unreachable"):
# they are known only after contact and leak the outcome. A feature set without them is usable before contact.
SALES_TEAM_COLUMNS = frozenset(
    {
        "lead_status_tag", "lead_quality", "lead_profile", "activity_index", "profile_index", "activity_score",
        "profile_score", "last_action", "final_engagement_action",
    }
)  # fmt: skip
# Buckets of visits: 0, 1, 2, 3-4, 5-7, 8-10, 11-20, 21+ (the real sample's deciles, with 0 and 1 apart because
# they convert unlike their neighbours); a lead with unknown visits gets a bucket of its own.
VISIT_SPLITS = (float("-inf"), 1.0, 2.0, 3.0, 5.0, 8.0, 11.0, 21.0, float("inf"))


def source_column(feature_name: str) -> str:
    """The silver column a slot of the assembled vector comes from."""
    return feature_name.split("__", 1)[0]


def _kinds(columns: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    kinds = {c: BY_NAME[c].kind for c in columns}
    categoricals = [c for c, k in kinds.items() if k == "string"]
    numerics = [c for c, k in kinds.items() if k in ("int", "double")]
    flags = [c for c, k in kinds.items() if k == "bool"]
    return categoricals, numerics, flags


def feature_stages(
    columns: Sequence[str],
    *,
    imputation: str = "median",
    visit_splits: Sequence[float] = VISIT_SPLITS,
) -> list[Estimator | Transformer]:
    """Stages that turn the given silver columns into the `features` vector.

    Categoricals: null -> "missing", indexed by frequency, one-hot (an unseen value gets the extra slot).
    Numerics: imputed by `imputation` (mean or median of the training rows); visits also bucketed.
    Flags: yes/no as 1.0/0.0, a missing one imputed by the training rows' mode.
    """
    categoricals, numerics, flags = _kinds(columns)
    nan = "CAST('NaN' AS DOUBLE)"  # what Imputer and Bucketizer treat as missing
    selects = [
        "*",
        *[f"coalesce(`{c}`, '{MISSING}') AS `{c}__filled`" for c in categoricals],
        *[f"coalesce(CAST(`{c}` AS DOUBLE), {nan}) AS `{c}__double`" for c in (*numerics, *flags)],
    ]
    stages: list[Estimator | Transformer] = [SQLTransformer(statement=f"SELECT {', '.join(selects)} FROM __THIS__")]
    vector_inputs: list[str] = []
    for group, strategy in ((numerics, imputation), (flags, "mode")):
        if group:
            stages.append(
                Imputer(
                    strategy=strategy,
                    inputCols=[f"{c}__double" for c in group],
                    outputCols=[f"{c}__imputed" for c in group],
                )
            )
            vector_inputs += [f"{c}__imputed" for c in group]
    indexed = [f"{c}__index" for c in categoricals]
    if VISITS in numerics:
        stages.append(
            Bucketizer(
                inputCol=f"{VISITS}__double",
                outputCol=f"{VISITS}__bucket",
                splits=list(visit_splits),
                handleInvalid="keep",
            )
        )
        indexed.append(f"{VISITS}__bucket")
    if categoricals:
        stages.append(
            StringIndexer(
                inputCols=[f"{c}__filled" for c in categoricals],
                outputCols=[f"{c}__index" for c in categoricals],
                handleInvalid="keep",
                stringOrderType="frequencyDesc",
            )
        )
    if indexed:
        onehot = [f"{c}__onehot" for c in indexed]
        stages.append(OneHotEncoder(inputCols=indexed, outputCols=onehot, handleInvalid="keep"))
        vector_inputs += onehot
    stages.append(VectorAssembler(inputCols=vector_inputs, outputCol=FEATURES, handleInvalid="keep"))
    return stages
