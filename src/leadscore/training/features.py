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
ENCODINGS = ("index", "onehot")  # categories as indices with metadata (trees) or one-hot vectors (linear models)
MISSING_NUMBER = "-1.0"  # a missing number or flag, for trees: every real value of those columns is >= 0


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
    encoding: str = "onehot",
    imputation: str = "median",
    visit_splits: Sequence[float] = VISIT_SPLITS,
) -> list[Estimator | Transformer]:
    """Stages that turn the given silver columns into the `features` vector, for a learner of the given encoding.

    `index` (tree learners): three stages. One SQL projection fills an unanswered category with "missing" and a
    missing number or flag with -1 (below every real value, so a tree can split the unanswered off); one
    StringIndexer indexes the categories by frequency; the assembler keeps the indexer's nominal metadata, so
    Spark's trees split categories as sets. No one-hot vectors, no imputers.
    `onehot` (linear learners): numerics imputed by `imputation` (mean or median of the training rows), visits
    also bucketed, flags as 1.0/0.0 with a missing one imputed by the mode, categories indexed and one-hot.
    Either way an unseen category gets an index of its own (handleInvalid="keep") and scores.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, not {encoding!r}")
    categoricals, numerics, flags = _kinds(columns)
    missing_number = "CAST('NaN' AS DOUBLE)" if encoding == "onehot" else MISSING_NUMBER  # NaN: what Imputer fills
    selects = [
        "*",
        *[f"coalesce(`{c}`, '{MISSING}') AS `{c}__filled`" for c in categoricals],
        *[f"coalesce(CAST(`{c}` AS DOUBLE), {missing_number}) AS `{c}__double`" for c in (*numerics, *flags)],
    ]
    stages: list[Estimator | Transformer] = [SQLTransformer(statement=f"SELECT {', '.join(selects)} FROM __THIS__")]
    indexer = StringIndexer(
        inputCols=[f"{c}__filled" for c in categoricals],
        outputCols=[f"{c}__index" for c in categoricals],
        handleInvalid="keep",
        stringOrderType="frequencyDesc",
    )
    if encoding == "index":
        if categoricals:
            stages.append(indexer)
        vector_inputs = [f"{c}__double" for c in (*numerics, *flags)] + [f"{c}__index" for c in categoricals]
        return [*stages, VectorAssembler(inputCols=vector_inputs, outputCol=FEATURES, handleInvalid="keep")]

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
        stages.append(indexer)
    if indexed:
        onehot = [f"{c}__onehot" for c in indexed]
        stages.append(OneHotEncoder(inputCols=indexed, outputCols=onehot, handleInvalid="keep"))
        vector_inputs += onehot
    stages.append(VectorAssembler(inputCols=vector_inputs, outputCol=FEATURES, handleInvalid="keep"))
    return stages


def categorical_slots(vector_metadata: dict) -> dict[int, int]:
    """Slot -> number of categories, for each nominal slot of an assembled vector (from its ml_attr metadata)."""
    nominal = vector_metadata.get("ml_attr", {}).get("attrs", {}).get("nominal", [])
    return {a["idx"]: len(a["vals"]) for a in nominal if "vals" in a}
