"""One training as one MLflow run: a nested run per candidate, the chosen pipeline logged and registered.

The parent run holds what a reader of the model needs: the params (feature set, seed, split, chosen learner, the
gold.training table and Delta version it read), the chosen model's validation and test metrics and threshold, the
plots, `metrics.json` (every figure, nested) and the model card, and the Spark pipeline in MLflow's Spark flavour
with its signature and an input example, registered as a new version of the feature set's model.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import packages_distributions, version
from pathlib import Path

import mlflow
import mlflow.data
import mlflow.spark
from mlflow import MlflowClient
from mlflow.models import infer_signature
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame

from leadscore.config import Config
from leadscore.lifecycle import report
from leadscore.lifecycle.registry import THRESHOLD
from leadscore.lifecycle.tracking import experiment_id
from leadscore.tables import Table
from leadscore.training.evaluation import with_score
from leadscore.training.fit import Trained

log = logging.getLogger("leadscore")

MODEL_ARTIFACT = "model"  # the logged model's name in the run
METRICS_FILE = "metrics.json"
EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class Published:
    name: str  # registered model
    version: str
    run_id: str
    metrics: dict  # the training's metrics plus what publishing added (model, version, provenance, ...)


def scalar_metrics(prefix: str, figures: dict) -> dict[str, float]:
    """`binary_metrics` as MLflow metrics: `<prefix>_auc_roc`, ..., the confusion matrix as `<prefix>_tp` etc."""
    flat = {**{k: v for k, v in figures.items() if k != "confusion_matrix"}, **figures["confusion_matrix"]}
    return {f"{prefix}_{key}": float(value) for key, value in flat.items()}


def _dataset(table: Table, version: int) -> mlflow.data.Dataset:
    if table.by_path:
        return mlflow.data.load_delta(path=table.location, version=str(version), name="gold_training")
    return mlflow.data.load_delta(table_name=table.location, version=str(version), name="gold_training")


def _log_candidates(metrics: dict, experiment: str) -> None:
    """A nested run per candidate, in the parent's experiment (a nested run otherwise goes to the active one)."""
    for name, candidate in metrics["candidates"].items():
        with mlflow.start_run(experiment_id=experiment, run_name=name, nested=True):
            mlflow.log_params({"candidate": name, "description": candidate["description"], **candidate["params"]})
            mlflow.log_metrics(
                {
                    **scalar_metrics("validation", candidate["validation"]),
                    **scalar_metrics("test", candidate["test"]),
                    THRESHOLD: candidate["threshold"],
                    "fit_seconds": candidate["seconds"],
                }
            )
            mlflow.set_tag("chosen", str(name == metrics["chosen"]).lower())
            if candidate["tuning"]:
                mlflow.log_dict(candidate["tuning"], "tuning.json")


def _requirements(model: PipelineModel) -> list[str]:
    """What loading the pipeline needs: MLflow's list for the Spark flavour, and xgboost when a stage is xgboost's.
    Declared, since MLflow otherwise infers them by loading the model in a new process with a Spark session of its
    own: a JVM started for every training."""
    needs = mlflow.spark.get_default_pip_requirements()
    if any(type(stage).__module__.startswith("xgboost.") for stage in model.stages):
        package = packages_distributions()["xgboost"][0]
        needs.append(f"{package}=={version(package)}")
    return needs


def _signature_and_example(trained: Trained, rows: DataFrame, columns: tuple[str, ...]):
    """The pipeline's input is the feature set's silver columns (types from Spark); its output the score."""
    sample = rows.select(*columns).limit(EXAMPLE_ROWS)
    scores = with_score(trained.model, sample).select("score").toPandas()["score"]
    return infer_signature(sample, scores), sample.toPandas()


def publish(
    client: MlflowClient,
    config: Config,
    trained: Trained,
    *,
    name: str,
    feature_set: str,
    gold: Table,
    gold_version: int,
    examples: DataFrame,
    provenance: dict,
) -> Published:
    """Logs the training (parent run, a nested run per candidate) and registers its pipeline as a new version."""
    metrics = trained.metrics
    git = provenance.get("git") or {}
    tags = {
        "feature_set": feature_set,
        "env": provenance.get("env") or config.env,
        "registered_model": name,
        "mlflow.source.git.commit": git.get("commit") or "",
        "git_branch": git.get("branch") or "",
        "git_url": git.get("url") or "",
        "git_uncommitted_changes": str(git.get("uncommitted_changes")),
    }
    with (
        mlflow.start_run(
            experiment_id=experiment_id(client, config), run_name=f"train {feature_set}", tags=tags
        ) as run,
        tempfile.TemporaryDirectory(prefix="leadscore-run-") as folder,
    ):
        _log_candidates(metrics, run.info.experiment_id)
        mlflow.log_params(
            {
                "feature_set": feature_set,
                "features": ",".join(config.feature_sets[feature_set]),
                "chosen": metrics["chosen"],
                **{f"chosen_{k}": v for k, v in metrics["candidates"][metrics["chosen"]]["params"].items()},
                "seed": metrics["seed"],
                "partitions": metrics["partitions"],
                "tune": metrics["tune"],
                "split": "/".join(str(config.model.split[s]) for s in ("train", "validation", "test")),
                "gold_training_table": gold.location,
                "gold_training_version": gold_version,
                "silver_version": provenance.get("silver_version"),
                "spark_version": provenance.get("spark_version"),
            }
        )
        mlflow.log_metrics(
            {
                **scalar_metrics("validation", metrics["validation"]),
                **scalar_metrics("test", metrics["test"]),
                THRESHOLD: metrics["threshold"],
                "training_seconds": metrics["training_seconds"],
            }
        )
        mlflow.log_input(_dataset(gold, gold_version), context="training")
        for plot in report.write_plots(trained, Path(folder)):
            mlflow.log_artifact(str(plot))

        signature, example = _signature_and_example(trained, examples, config.feature_sets[feature_set])
        logged = mlflow.spark.log_model(
            trained.model,
            artifact_path=MODEL_ARTIFACT,  # the Spark flavour still names it so in MLflow 3
            signature=signature,
            input_example=example,
            pip_requirements=_requirements(trained.model),
            registered_model_name=name,
            dfs_tmpdir=config.mlflow.dfs_tmpdir,
        )
        version = str(logged.registered_model_version)
        full = {
            **metrics,
            "model": name,
            "version": version,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "feature_set": feature_set,
            "features": list(config.feature_sets[feature_set]),
            "split_percent": config.model.split,
            "priority": config.model.priority,
            "promotion": config.model.promotion,
            "importances": trained.importances,
            "provenance": {
                **provenance,
                "run_id": run.info.run_id,
                "gold_training_table": gold.location,
                "gold_training_version": gold_version,
            },
        }
        mlflow.log_dict(full, METRICS_FILE)
        card = report.model_card(full)
        mlflow.log_text(card, report.MODEL_CARD)
        mlflow.set_tag("model_version", version)
    client.update_model_version(name, version, description=card.split("\n## ", 1)[0].lstrip("# ").strip())
    client.set_model_version_tag(name, version, "feature_set", feature_set)
    client.set_model_version_tag(name, version, "gold_training_version", str(gold_version))
    log.info("train: registered %s version %s (run %s)", name, version, run.info.run_id)
    return Published(name, version, run.info.run_id, full)
