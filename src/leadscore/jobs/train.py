"""Train the lead-scoring model: gold_training from silver, candidates chosen on validation, a registered version.

Rebuilds gold_training (each labelled lead's latest state, split by a hash of prospect_id), fits the original
Random Forest, Spark ML's gradient-boosted trees, xgboost and a logistic regression on train (grid-searched with
--tune), keeps the best validation AUC, picks the threshold on validation and measures on test, all as one MLflow
run with a nested run per candidate. The pipeline is registered as a new version of the feature set's model with the
alias `challenger`, and takes `champion` if it beats the champion on the same test split by conf's margin (the first
version does at once). Progress goes to stderr; the last line is the version, its test metrics and the decision.
"""

from __future__ import annotations

import argparse

from pyspark.sql import SparkSession

from leadscore.cli import entry_point
from leadscore.config import Config
from leadscore.lifecycle.new_version import train_new_version
from leadscore.lifecycle.registry import model_name
from leadscore.spark import get_spark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--feature-set", help="feature set declared in conf (default: model.feature_set, `full`)")
    parser.add_argument(
        "--tune", action="store_true", default=None, help="grid-search each challenger (default: model.tune)"
    )
    parser.add_argument("--seed", type=int, help="seed of every estimator and of the grid search (default: model.seed)")
    source = parser.add_argument_group("provenance (default: read from the git checkout, if any)")
    source.add_argument("--git-url", help="repository the code came from")
    source.add_argument("--git-branch", help="branch the code came from")
    source.add_argument("--git-commit", help="commit the code came from")


def run(args: argparse.Namespace, config: Config) -> dict:
    feature_set = args.feature_set or config.model.feature_set
    model_name(config, feature_set)  # an unknown feature set stops here, before a session starts
    return new_version(get_spark(config.train_spark, "leadscore-train", spark_ml=True), args, config)


def new_version(spark: SparkSession, args: argparse.Namespace, config: Config) -> dict:
    """The new version these flags ask for (what `retrain` runs too, once it has decided to)."""
    return train_new_version(
        spark,
        config,
        feature_set=args.feature_set or config.model.feature_set,
        seed=config.model.seed if args.seed is None else args.seed,
        tune=config.model.tune if args.tune is None else args.tune,
        git={"url": args.git_url, "branch": args.git_branch, "commit": args.git_commit},
    )


main = entry_point("train")
