"""Registered models, their aliases, and loading a version: the one way any job finds a model.

Each feature set is its own registered model (`<model.name>_<feature set>`, in Unity Catalog
`<catalog>.<schema>.<model.name>_<feature set>`), so each has its own signature and its own champion. Scoring
resolves an alias to a version number first and then loads that version, so an alias moved mid-load cannot mix
two versions. Every alias move is logged and recorded on the versions themselves (tags `<alias>_since`,
`<alias>_reason` on the new holder, `<alias>_until` on the one it leaves).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.lifecycle import tracking

if TYPE_CHECKING:  # Spark only where a model is loaded: the console App lists versions without pyspark
    from pyspark.ml import PipelineModel

log = logging.getLogger("leadscore")

CHAMPION, CHALLENGER = "champion", "challenger"
THRESHOLD = "threshold"  # the training run's metric holding the decision threshold (score >= threshold: yes)


def model_name(config: Config, feature_set: str | None = None) -> str:
    """The registered model of a feature set (default: the one conf scores with)."""
    feature_set = feature_set or config.model.feature_set
    if feature_set not in config.feature_sets:
        raise LeadscoreError(f"unknown feature set {feature_set!r}: expected one of {', '.join(config.feature_sets)}")
    base = f"{config.model.name}_{feature_set}"
    return f"{config.catalog}.{config.schema}.{base}" if config.mlflow.unity_catalog else base


def _missing(error: MlflowException) -> bool:
    return error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


def registered(client: MlflowClient, name: str) -> bool:
    try:
        client.get_registered_model(name)
    except MlflowException as error:
        if not _missing(error):
            raise
        return False
    return True


def require_registered(client: MlflowClient, name: str) -> None:
    if not registered(client, name):
        raise LeadscoreError(
            f"model {name!r} is not registered in {mlflow.get_registry_uri()}: "
            "run `leadscore train` for its feature set"
        )


def version_by_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version `alias` names, or None when no version holds it; a model that is not registered is an error."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        if not _missing(error):
            raise
    require_registered(client, name)
    return None


def model_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    if not str(version).isdigit():
        raise LeadscoreError(f"a model version is a number, not {version!r}")
    try:
        return client.get_model_version(name, str(version))
    except MlflowException as error:
        if not _missing(error):
            raise
    require_registered(client, name)
    raise LeadscoreError(f"model {name!r} has no version {version}: `leadscore models` lists its versions")


def resolve(client: MlflowClient, name: str, *, version: str | None = None, alias: str = CHAMPION) -> ModelVersion:
    """The version asked for: by number if given, else the one `alias` names (an error when none does)."""
    if version is not None:
        return model_version(client, name, version)
    found = version_by_alias(client, name, alias)
    if found is None:
        hint = "run `leadscore promote --version N`" if alias == CHAMPION else "`leadscore models` lists the aliases"
        raise LeadscoreError(f"model {name!r} has no version with the alias {alias!r}: {hint}")
    return found


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str
    model: PipelineModel
    threshold: float
    run_id: str


def load(client: MlflowClient, config: Config, found: ModelVersion) -> LoadedModel:
    """The version's Spark pipeline (MLflow's Spark flavour) and the threshold its training chose."""
    run = client.get_run(found.run_id)
    import mlflow.spark

    tracking.use(config)  # `models:/` resolves against the fluent API's registry: conf's, whoever set it last
    model = mlflow.spark.load_model(f"models:/{found.name}/{found.version}", dfs_tmpdir=config.mlflow.dfs_tmpdir)
    return LoadedModel(found.name, str(found.version), model, run.data.metrics[THRESHOLD], found.run_id)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def move_alias(client: MlflowClient, name: str, alias: str, version: str, reason: str) -> str | None:
    """Points `alias` at `version`, records the move on both versions, logs it; returns the former holder."""
    former = version_by_alias(client, name, alias)
    previous = None if former is None else str(former.version)
    if previous == str(version):
        return previous
    now = _now()
    client.set_registered_model_alias(name, alias, str(version))
    client.set_model_version_tag(name, str(version), f"{alias}_since", now)
    client.set_model_version_tag(name, str(version), f"{alias}_reason", reason)
    if previous is not None:
        client.set_model_version_tag(name, previous, f"{alias}_until", now)
    log.info("registry: %s@%s: version %s -> %s (%s)", name, alias, previous or "none", version, reason)
    return previous


def drop_alias(client: MlflowClient, name: str, alias: str, reason: str) -> None:
    holder = version_by_alias(client, name, alias)
    if holder is None:
        return
    client.delete_registered_model_alias(name, alias)
    client.set_model_version_tag(name, str(holder.version), f"{alias}_until", _now())
    log.info("registry: %s@%s: version %s -> none (%s)", name, alias, holder.version, reason)


def describe(client: MlflowClient, found: ModelVersion) -> dict:
    """One version as `leadscore models` lists it: aliases, learner, test metrics, threshold, data, run, tags."""
    run = client.get_run(found.run_id)
    metrics, params = run.data.metrics, run.data.params
    return {
        "version": str(found.version),
        "aliases": ", ".join(sorted(found.aliases)),
        "created_at": datetime.fromtimestamp(found.creation_timestamp / 1000, UTC).isoformat(timespec="seconds"),
        "feature_set": params.get("feature_set"),
        "chosen": params.get("chosen"),
        **{f"test_{m}": metrics.get(f"test_{m}") for m in ("auc_roc", "pr_auc", "accuracy", "calibration_error")},
        "threshold": metrics.get(THRESHOLD),
        "gold_training_version": params.get("gold_training_version"),
        "run_id": found.run_id,
        "tags": dict(found.tags),
    }


def versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    """Every version of the model, newest first, each with its aliases (read one by one: the SQL store's search
    leaves a version's aliases empty)."""
    require_registered(client, name)
    numbers = sorted((int(v.version) for v in client.search_model_versions(f"name = '{name}'")), reverse=True)
    return [client.get_model_version(name, str(number)) for number in numbers]
