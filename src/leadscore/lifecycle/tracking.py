"""The MLflow stores conf names, set once per process: every other module asks `client(config)`."""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow import MlflowClient

from leadscore.config import SQLITE, Config


def client(config: Config) -> MlflowClient:
    """Points MLflow's fluent API at conf's tracking store and registry, and returns a client of both.

    A local SQLite store is created on first use (its folder too); the registry URI comes from conf, nowhere else.
    """
    uri = config.mlflow.tracking_uri
    if uri.startswith(SQLITE):
        Path(uri.removeprefix(SQLITE)).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(config.mlflow.registry_uri)
    return MlflowClient(tracking_uri=uri, registry_uri=config.mlflow.registry_uri)


def experiment_id(mlflow_client: MlflowClient, config: Config) -> str:
    """conf's experiment, created on first use with its artifact location (mlruns/ beside a SQLite store)."""
    found = mlflow_client.get_experiment_by_name(config.mlflow.experiment)
    if found is not None:
        return found.experiment_id
    location = config.mlflow.artifact_location
    if location and "://" not in location:
        location = Path(location).resolve().as_uri()
    return mlflow_client.create_experiment(config.mlflow.experiment, artifact_location=location)
