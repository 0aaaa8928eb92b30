"""The candidates a training compares: the original Random Forest, Spark ML's gradient-boosted trees, xgboost's Spark
estimator and a logistic regression, each with its feature encoding and the grid `--tune` searches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.ml import Estimator, Pipeline
from pyspark.ml.classification import GBTClassifier, LogisticRegression, RandomForestClassifier
from pyspark.ml.tuning import ParamGridBuilder
from xgboost.spark import SparkXGBClassifier

from leadscore.training.features import FEATURES, VISIT_SPLITS, feature_stages

LABEL_COLUMN = "label"  # the boolean label as the double Spark ML learns from; only training rows have it
# The original model's inputs: seven categoricals, the three numerics, visits bucketed at its splits.
ORIGINAL_COLUMNS = (
    "lead_capture_channel", "referral_source", "last_action", "final_engagement_action", "city", "country",
    "lead_status_tag", "total_visits", "total_browsing_time", "avg_listings_viewed_per_session",
)  # fmt: skip
ORIGINAL_VISIT_SPLITS = (0.0, 10.0, 20.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0, float("inf"))
# Where a fitted pipeline scores: in the JVM (Spark ML's forests, boosting and logistic regression), or in Python
# through a pandas UDF (xgboost's Spark model), which is dearer every micro-batch (docs/performance.md, Design
# choices). A tie on validation AUC goes to the one that scores in the JVM (`choose`).
SCORES_IN = ("jvm", "python")


@dataclass(frozen=True)
class Candidate:
    name: str
    description: str
    columns: tuple[str, ...]
    classifier: Estimator
    shown: tuple[str, ...]  # classifier params the metrics report
    grid: list = field(default_factory=list)  # param maps of `classifier` --tune tries; empty: fitted as declared
    encoding: str = "index"  # features.ENCODINGS: indexed categories for trees, one-hot for linear models
    scores_in: str = "jvm"  # SCORES_IN
    imputation: str = "median"
    visit_splits: tuple[float, ...] = VISIT_SPLITS

    def features(self) -> Pipeline:
        return Pipeline(
            stages=feature_stages(
                self.columns, encoding=self.encoding, imputation=self.imputation, visit_splits=self.visit_splits
            )
        )


def candidates(columns: Sequence[str], seed: int) -> list[Candidate]:
    """The baseline (restricted to the feature set's columns) and the three challengers.

    The challengers' settings and grids come from runs on the real sample's train and validation splits: shallow
    trees and many rounds beat deep trees there, and a step of 0.05 never beat 0.1 in Spark's GBT grid search (so
    the grid leaves it out, halving the search). xgboost is told which slots are categories (`told_categories`) and
    splits them as sets (as ordered indices they validated as well), and half the columns per tree beat all of them.
    Wider searches of xgboost and added features moved validation AUC by no more than its noise (docs/model.md).
    Spark's GBT is the exception among the trees: on the real sample it validates higher on one-hot categories than
    on indexed ones with categorical metadata, with both feature sets, so it keeps them.
    """
    rf = RandomForestClassifier(labelCol=LABEL_COLUMN, numTrees=20, maxDepth=5, seed=seed)
    gbt = GBTClassifier(labelCol=LABEL_COLUMN, maxIter=100, maxDepth=4, stepSize=0.1, subsamplingRate=0.8, seed=seed)
    xgb = SparkXGBClassifier(
        features_col=FEATURES,
        label_col=LABEL_COLUMN,
        num_workers=1,  # one booster on the driver's data: the same partitions give the same model
        n_estimators=200,
        max_depth=3,
        learning_rate=0.1,
        subsample=0.8,
        colsample_bytree=0.5,
        random_state=seed,
        verbose=False,  # no log line per boosting round
    )
    lr = LogisticRegression(labelCol=LABEL_COLUMN, regParam=0.01, elasticNetParam=0.0, maxIter=200)
    return [
        Candidate(
            "baseline_rf",
            "the original Random Forest: 20 trees of depth 5, its 7 categoricals and 3 numerics, mean imputation",
            tuple(c for c in ORIGINAL_COLUMNS if c in columns),
            rf,
            ("numTrees", "maxDepth"),
            encoding="onehot",
            imputation="mean",
            visit_splits=ORIGINAL_VISIT_SPLITS,
        ),
        Candidate(
            "gbt",
            "Spark ML gradient-boosted trees on every column of the feature set, one-hot categories, median imputation",
            tuple(columns),
            gbt,
            ("maxIter", "maxDepth", "stepSize", "subsamplingRate"),
            ParamGridBuilder().addGrid(gbt.maxDepth, [3, 4, 5]).addGrid(gbt.maxIter, [100, 200]).build(),
            encoding="onehot",
        ),
        Candidate(
            "xgboost",
            "xgboost's Spark estimator on every column of the feature set, categories as categories",
            tuple(columns),
            xgb,
            ("n_estimators", "max_depth", "learning_rate", "subsample", "colsample_bytree"),
            ParamGridBuilder().addGrid(xgb.max_depth, [3, 4, 6]).addGrid(xgb.n_estimators, [200, 400]).build(),
            scores_in="python",
        ),
        Candidate(
            "logistic_regression",
            "logistic regression on every column of the feature set, one-hot categories, median imputation",
            tuple(columns),
            lr,
            ("regParam", "elasticNetParam"),
            ParamGridBuilder().addGrid(lr.regParam, [0.001, 0.01, 0.1]).addGrid(lr.elasticNetParam, [0.0, 0.5]).build(),
            encoding="onehot",
        ),
    ]
