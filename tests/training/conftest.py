"""Shared by the training tests: silver rows of the small generated fixture, and models trained on them.

Candidates are the real ones made tiny (few trees, few rounds, two-point grids), so the suite stays fast while
every path (feature stages of both encodings, grid search, choice, threshold, MLflow logging, registering,
promotion) runs.
"""

from __future__ import annotations

import argparse
from types import ModuleType

import pytest
from pyspark.ml.classification import GBTClassifier, LogisticRegression, RandomForestClassifier
from pyspark.ml.tuning import ParamGridBuilder
from xgboost.spark import SparkXGBClassifier

from leadscore import cli, gold, silver, training
from leadscore.features import FEATURES
from leadscore.jobs import score_batch
from leadscore.jobs import train as train_job
from tests.conftest import config_for, load_fixture

SEED = 7


def small_candidates(columns, seed):
    rf = RandomForestClassifier(labelCol=training.LABEL_COLUMN, numTrees=5, maxDepth=3, seed=seed)
    gbt = GBTClassifier(labelCol=training.LABEL_COLUMN, maxIter=5, maxDepth=2, seed=seed)
    lr = LogisticRegression(labelCol=training.LABEL_COLUMN, regParam=0.01, maxIter=50)
    xgb = SparkXGBClassifier(
        features_col=FEATURES,
        label_col=training.LABEL_COLUMN,
        num_workers=1,
        n_estimators=10,
        max_depth=2,
        random_state=seed,
        verbose=False,
    )
    return [
        training.Candidate(
            "baseline_rf",
            "tiny forest",
            tuple(c for c in training.ORIGINAL_COLUMNS if c in columns),
            rf,
            ("numTrees", "maxDepth"),
            encoding="onehot",
            imputation="mean",
            visit_splits=training.ORIGINAL_VISIT_SPLITS,
        ),
        training.Candidate(
            "gbt", "tiny boosting", tuple(columns), gbt, ("maxIter", "maxDepth"),
            ParamGridBuilder().addGrid(gbt.maxDepth, [2, 3]).build(),
        ),
        training.Candidate(
            "xgboost", "tiny xgboost", tuple(columns), xgb, ("n_estimators", "max_depth"),
            ParamGridBuilder().addGrid(xgb.max_depth, [2, 3]).build(),
        ),
        training.Candidate(
            "logistic_regression", "logistic regression", tuple(columns), lr, ("regParam",),
            ParamGridBuilder().addGrid(lr.regParam, [0.01, 0.1]).build(), encoding="onehot",
        ),
    ]  # fmt: skip


def run_job(module: ModuleType, *argv: str) -> dict:
    """One job through its own flags and the CLI's config handling, without importing every other command."""
    parser = argparse.ArgumentParser()
    cli.add_config_arguments(parser)
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    return module.run(args, cli.config_from(args))


@pytest.fixture(scope="session")
def silver_sample(spark):
    """The generated fixture's leads, parsed and checked by bronze and silver (as score-batch does)."""
    checked = score_batch.checked_rows(spark, str(load_fixture("generated_small.csv")), "utf-8")
    return silver.silver_rows(checked).cache()


@pytest.fixture(scope="session")
def gold_sample(silver_sample):
    return gold.training_table(silver_sample, config_for(".").model.split).cache()


@pytest.fixture(scope="session")
def trained(gold_sample):
    columns = config_for(".").feature_sets["full"]
    return training.train(gold_sample, small_candidates(columns, SEED), seed=SEED, tune=True, partitions=4)


def train_tiny(*argv: str) -> dict:
    """`leadscore train` with the tiny candidates."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "candidates", small_candidates)
        return run_job(train_job, *argv)


@pytest.fixture(scope="session")
def trained_lakehouse(spark, silver_sample, tmp_path_factory):
    """A lakehouse whose silver holds the fixture and whose model `leadscore train` registered (tiny candidates)."""
    lakehouse = tmp_path_factory.mktemp("trained") / "lakehouse"
    config = config_for(lakehouse)
    config.table("silver_leads").save(silver_sample.write.mode("overwrite"))
    result = train_tiny("--lakehouse", str(lakehouse), "--seed", str(SEED), "--git-commit", "abc123")
    return config, result
