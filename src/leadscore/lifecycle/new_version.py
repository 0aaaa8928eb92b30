"""A new model version: gold.training rebuilt from silver, the candidates fitted and one chosen, the run logged and
registered in MLflow, and the new version challenging the champion. What `leadscore train` and `retrain` run."""

from __future__ import annotations

import subprocess
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.lifecycle import tracking
from leadscore.lifecycle.promotion import challenge
from leadscore.lifecycle.publish import publish
from leadscore.lifecycle.registry import model_name
from leadscore.training import candidates, fit, gold


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.strip() if done.returncode == 0 else ""
    return value or None


def provenance(spark: SparkSession, config: Config, git: dict[str, str | None]) -> dict:
    """Where the model came from: environment, code (the given git source, else the local checkout) and data."""
    silver = config.table("silver_leads")
    checkout = None if git.get("commit") else _git("rev-parse", "HEAD")
    return {
        "env": config.env,
        "git": {
            "url": git.get("url") or _git("config", "--get", "remote.origin.url"),
            "branch": git.get("branch") or _git("rev-parse", "--abbrev-ref", "HEAD"),
            "commit": git.get("commit") or checkout,
            # Only known for a local checkout: whether tracked files differed from that commit.
            "uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no")) if checkout else None,
        },
        "silver_table": silver.location,
        "silver_version": silver.latest_version(spark),
        "spark_version": spark.version,
    }


def train_new_version(
    spark: SparkSession, config: Config, *, feature_set: str, seed: int, tune: bool, git: dict[str, str | None]
) -> dict:
    """Trains, registers and challenges; returns the version, its test metrics and the promotion decision."""
    started = time.perf_counter()
    name = model_name(config, feature_set)
    if not config.table("silver_leads").exists(spark):
        raise LeadscoreError(
            f"no silver table at {config.table('silver_leads').location}: run `leadscore ingest` first"
        )
    # Hundreds of boosting rounds build a long lineage: checkpoints keep it short.
    spark.sparkContext.setCheckpointDir(config.checkpoint("train"))

    client = tracking.client(config)
    gold.write_training(spark, config)
    table = config.table("gold_training")
    gold_version = table.latest_version(spark)
    rows = table.read(spark, versionAsOf=str(gold_version))  # exactly the version the run records
    columns = config.feature_sets[feature_set]
    trained = fit.train(
        rows,
        candidates.candidates(columns, seed),
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
        provenance=provenance(spark, config, git),
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
