"""The model page's data: the champion and challenger of conf's registered model, read through MLflow's client.

Versions and aliases from the registry; test metrics and params from each version's training run; curves and the
model card from the run's artifacts (`roc.png`, `pr.png`, `calibration.png`, `feature_importance.png`,
`model_card.md`). No Spark: the Databricks App lists models without pyspark.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from leadscore.config import SQLITE, Config

CURVES = {
    "ROC": "roc.png",
    "precision-recall": "pr.png",
    "calibration": "calibration.png",
    "importance": "feature_importance.png",
}
CARD = "model_card.md"


@dataclass(frozen=True)
class ModelVersion:
    alias: str  # champion or challenger
    name: str
    version: str
    metrics: dict  # the training run's metrics (test_*, validation_*, threshold)
    params: dict  # the training run's params (chosen, feature_set, gold_training_version, ...)
    curves: dict[str, bytes] = field(default_factory=dict)  # title -> PNG
    card: str = ""  # Markdown


def _artifacts(client, run_id: str) -> tuple[dict[str, bytes], str]:
    logged = {entry.path for entry in client.list_artifacts(run_id)}
    with tempfile.TemporaryDirectory() as folder:
        curves = {
            title: Path(client.download_artifacts(run_id, file, folder)).read_bytes()
            for title, file in CURVES.items()
            if file in logged
        }
        card = Path(client.download_artifacts(run_id, CARD, folder)).read_text() if CARD in logged else ""
    return curves, card


def champion_and_challenger(config: Config) -> list[ModelVersion]:
    """The champion first, then the challenger if a version holds that alias; empty before the first training."""
    from leadscore.lifecycle import tracking
    from leadscore.lifecycle.registry import CHALLENGER, CHAMPION, model_name, registered, version_by_alias

    store = config.mlflow.tracking_uri
    if store.startswith(SQLITE) and not Path(store.removeprefix(SQLITE)).is_file():
        return []  # nothing trained here yet; the console creates no store of its own
    client = tracking.client(config)
    name = model_name(config)
    if not registered(client, name):
        return []
    found = []
    for alias in (CHAMPION, CHALLENGER):
        holder = version_by_alias(client, name, alias)
        if holder is None:
            continue
        run = client.get_run(holder.run_id)
        curves, card = _artifacts(client, holder.run_id)
        found.append(ModelVersion(alias, name, str(holder.version), run.data.metrics, run.data.params, curves, card))
    return found
