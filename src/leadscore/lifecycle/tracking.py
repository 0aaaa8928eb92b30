"""The MLflow stores conf names, set once per process: every other module asks `client(config)`."""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow import MlflowClient

from leadscore.config import SQLITE, Config


def use(config: Config) -> None:
    """Points MLflow's fluent API (runs, `models:/` URIs) at conf's tracking store and registry.

    A local SQLite store is created on first use (its folder too); the registry URI comes from conf, nowhere else.
    """
    uri = config.mlflow.tracking_uri
    if uri.startswith(SQLITE):
        Path(uri.removeprefix(SQLITE)).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(config.mlflow.registry_uri)


def client(config: Config) -> MlflowClient:
    """`use(config)`, and a client of the same tracking store and registry."""
    use(config)
    return MlflowClient(tracking_uri=config.mlflow.tracking_uri, registry_uri=config.mlflow.registry_uri)


def experiment_id(mlflow_client: MlflowClient, config: Config) -> str:
    """conf's experiment, created on first use with its artifact location (mlruns/ beside a SQLite store)."""
    found = mlflow_client.get_experiment_by_name(config.mlflow.experiment)
    if found is not None:
        return found.experiment_id
    location = config.mlflow.artifact_location
    if location and "://" not in location:
        location = Path(location).resolve().as_uri()
    return mlflow_client.create_experiment(config.mlflow.experiment, artifact_location=location)
