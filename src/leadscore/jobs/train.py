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
import subprocess
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from leadscore import gold, training
from leadscore.cli import entry_point
from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.lifecycle import tracking
from leadscore.lifecycle.promotion import challenge
from leadscore.lifecycle.publish import publish
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


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.strip() if done.returncode == 0 else ""
    return value or None


def provenance(spark: SparkSession, config: Config, args: argparse.Namespace) -> dict:
    """Where the model came from: environment, code (bundle parameters, else the local checkout) and data."""
    silver = config.table("silver_leads")
    checkout = None if args.git_commit else _git("rev-parse", "HEAD")
    return {
        "env": config.env,
        "git": {
            "url": args.git_url or _git("config", "--get", "remote.origin.url"),
            "branch": args.git_branch or _git("rev-parse", "--abbrev-ref", "HEAD"),
            "commit": args.git_commit or checkout,
            # Only known for a local checkout: whether tracked files differed from that commit.
            "uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no")) if checkout else None,
        },
        "silver_table": silver.location,
        "silver_version": silver.latest_version(spark),
        "spark_version": spark.version,
    }


def run(args: argparse.Namespace, config: Config) -> dict:
    started = time.perf_counter()
    feature_set = args.feature_set or config.model.feature_set
    name = model_name(config, feature_set)  # an unknown feature set stops here, before any work
    seed = config.model.seed if args.seed is None else args.seed
    tune = config.model.tune if args.tune is None else args.tune
    spark = get_spark(config.train_spark, "leadscore-train", spark_ml=True)
    if not config.table("silver_leads").exists(spark):
        raise LeadscoreError(
            f"no silver table at {config.table('silver_leads').location}: run `leadscore ingest` first"
        )
    # Hundreds of boosting rounds build a long lineage: checkpoints keep it short, and the fit twice as fast.
    spark.sparkContext.setCheckpointDir(config.checkpoint("train"))

    client = tracking.client(config)
    gold.write_training(spark, config)
    table = config.table("gold_training")
    gold_version = table.latest_version(spark)
    rows = table.read(spark, versionAsOf=str(gold_version))  # exactly the version the run records
    columns = config.feature_sets[feature_set]
    trained = training.train(
        rows,
        training.candidates(columns, seed),
        seed=seed,
        tune=tune,
        partitions=config.model.partitions,
        tie_margin=config.model.promotion["margin"],
    )
    test = rows.where(F.col("split") == "test")
    logging_started = time.perf_counter()
    published = publish(
        client,
        config,
        trained,
        name=name,
        feature_set=feature_set,
        gold=table,
        gold_version=gold_version,
        examples=test,
        provenance=provenance(spark, config, args),
    )
    decision = challenge(client, config, published, test)
    mlflow_seconds = time.perf_counter() - logging_started
    return {
        "model": name,
        "model_version": published.version,
        "run_id": published.run_id,
        "feature_set": feature_set,
        "gold_training_version": gold_version,
        "chosen": trained.metrics["chosen"],
        "params": trained.metrics["candidates"][trained.metrics["chosen"]]["params"],
        "threshold": trained.metrics["threshold"],
        "tune": tune,
        "test": trained.metrics["test"],
        "candidates": {
            candidate: {"validation_auc": c["validation_auc"], "test_auc": c["test"]["auc_roc"]}
            for candidate, c in trained.metrics["candidates"].items()
        },
        "promotion": decision,
        "training_seconds": trained.metrics["training_seconds"],
        "mlflow_seconds": round(mlflow_seconds, 1),  # logging, registering and the champion's challenge
        "seconds": round(time.perf_counter() - started, 1),
    }


main = entry_point("train")
