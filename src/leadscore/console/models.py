"""The model page's one seam to the model registry: the champion and challenger versions, their metrics, curves and
model card.

It reads the version folders `leadscore train` publishes (`<models>/<name>/<version>/`, CURRENT naming the version
the scores stream serves) as files, without Spark: CURRENT is the champion, and a newer published version that
CURRENT does not name yet is the challenger.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from leadscore.config import Config

CURVES = {"ROC": "roc.png", "precision-recall": "pr.png", "importance": "feature_importance.png"}


@dataclass(frozen=True)
class ModelVersion:
    alias: str  # champion or challenger
    name: str
    version: str
    metrics: dict  # test metrics and the rest of the version's record
    curves: dict[str, bytes] = field(default_factory=dict)  # title -> PNG
    card: str = ""  # Markdown


def _load(folder: Path, alias: str, name: str) -> ModelVersion:
    metrics = json.loads((folder / "metrics.json").read_text())
    curves = {title: (folder / file).read_bytes() for title, file in CURVES.items() if (folder / file).is_file()}
    card = (folder / "MODEL_CARD.md").read_text() if (folder / "MODEL_CARD.md").is_file() else ""
    return ModelVersion(alias, name, folder.name, metrics, curves, card)


def champion_and_challenger(config: Config) -> list[ModelVersion]:
    """The champion first, then the challenger if there is one; empty before the first training."""
    root = Path(config.models) / config.model.name
    pointer = root / "CURRENT"
    if not pointer.is_file():
        return []
    current = pointer.read_text().strip()
    found = [_load(root / current, "champion", config.model.name)]
    published = sorted(
        (int(p.name) for p in root.iterdir() if p.name.isdigit() and (p / "metrics.json").is_file()), reverse=True
    )
    if published and published[0] > int(current):
        found.append(_load(root / str(published[0]), "challenger", config.model.name))
    return found
