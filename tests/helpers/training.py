"""Training made tiny for the suite: the real candidates with few trees, few rounds and two-point grids, so every
path (feature stages of both encodings, grid search, choice, threshold, MLflow logging, registering, promotion) runs
in seconds. Shared by the training tests and by the fixtures that need a registered model.
"""

from __future__ import annotations

import argparse
from types import ModuleType

import pytest
from pyspark.ml.classification import GBTClassifier, LogisticRegression, RandomForestClassifier
from pyspark.ml.tuning import ParamGridBuilder
from xgboost.spark import SparkXGBClassifier

from leadscore.config import add_config_arguments, config_from
from leadscore.jobs import train as train_job
from leadscore.training import candidates as candidate_sets
from leadscore.training import fit
from leadscore.training.features import FEATURES

SEED = 7


def small_candidates(columns, seed):
    rf = RandomForestClassifier(labelCol=candidate_sets.LABEL_COLUMN, numTrees=5, maxDepth=3, seed=seed)
    gbt = GBTClassifier(labelCol=candidate_sets.LABEL_COLUMN, maxIter=5, maxDepth=2, seed=seed)
    lr = LogisticRegression(labelCol=candidate_sets.LABEL_COLUMN, regParam=0.01, maxIter=50)
    xgb = SparkXGBClassifier(
        features_col=FEATURES,
        label_col=candidate_sets.LABEL_COLUMN,
        num_workers=1,
        n_estimators=10,
        max_depth=2,
        random_state=seed,
        verbose=False,
    )
    return [
        candidate_sets.Candidate(
            "baseline_rf",
            "tiny forest",
            tuple(c for c in candidate_sets.ORIGINAL_COLUMNS if c in columns),
            rf,
            ("numTrees", "maxDepth"),
            encoding="onehot",
            imputation="mean",
            visit_splits=candidate_sets.ORIGINAL_VISIT_SPLITS,
        ),
        candidate_sets.Candidate(
            "gbt", "tiny boosting", tuple(columns), gbt, ("maxIter", "maxDepth"),
            ParamGridBuilder().addGrid(gbt.maxDepth, [2, 3]).build(),
        ),
        candidate_sets.Candidate(
            "xgboost", "tiny xgboost", tuple(columns), xgb, ("n_estimators", "max_depth"),
            ParamGridBuilder().addGrid(xgb.max_depth, [2, 3]).build(),
        ),
        candidate_sets.Candidate(
            "logistic_regression", "logistic regression", tuple(columns), lr, ("regParam",),
            ParamGridBuilder().addGrid(lr.regParam, [0.01, 0.1]).build(), encoding="onehot",
        ),
    ]  # fmt: skip


def run_job(module: ModuleType, *argv: str) -> dict:
    """One job through its own flags and the CLI's config handling, without importing every other command."""
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    return module.run(args, config_from(args))


def only(name: str):
    """Candidates of one tiny learner: a new version at the cost of one fit, where what is tested is not the choice."""
    return lambda columns, seed: [c for c in small_candidates(columns, seed) if c.name == name]


def train_tiny(*argv: str) -> tuple[dict, fit.Trained]:
    """`leadscore train` with the tiny candidates: its result, and the fitted candidates' `Trained` it published."""
    fitted, fit_train = [], fit.train

    def train(*args, **kwargs):
        fitted.append(fit_train(*args, **kwargs))
        return fitted[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(candidate_sets, "candidates", small_candidates)
        patch.setattr(fit, "train", train)
        result = run_job(train_job, *argv)
    (trained,) = fitted
    return result, trained
