"""Model versions under `<models>/<name>/<version>/` and the CURRENT pointer the scoring jobs read.

A version folder is claimed with an atomic mkdir and filled before CURRENT names it, and CURRENT is replaced
atomically, so a scorer never loads a half-written model and two trainings never share a version.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from matplotlib.figure import Figure
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession
from sklearn import metrics as skm

from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.features import SALES_TEAM_COLUMNS
from leadscore.training import Trained

CURRENT = "CURRENT"
MODEL, METRICS, CARD = "model", "metrics.json", "MODEL_CARD.md"
TOP_COLUMNS = 20  # bars in feature_importance.png


def model_root(config: Config) -> Path:
    return Path(config.models) / config.model.name


def current_version(config: Config) -> str | None:
    pointer = model_root(config) / CURRENT
    return pointer.read_text().strip() if pointer.is_file() else None


def load_model(spark: SparkSession, config: Config, version: str) -> tuple[PipelineModel, dict]:
    """The version's PipelineModel and its metrics (which hold the decision threshold)."""
    folder = model_root(config) / version
    if not (folder / METRICS).is_file():
        raise LeadscoreError(f"model {config.model.name!r} has no version {version} in {model_root(config)}")
    model = PipelineModel.read().session(spark).load(str(folder / MODEL))
    return model, json.loads((folder / METRICS).read_text())


def _claim_version(root: Path) -> str:
    """The next free version number, taken by creating its folder (mkdir fails if another run took it first)."""
    while True:
        taken = [int(p.name) for p in root.iterdir() if p.name.isdigit()]
        version = str(max(taken, default=0) + 1)
        try:
            (root / version).mkdir()
            return version
        except FileExistsError:
            continue


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def publish(config: Config, trained: Trained, *, feature_set: str, provenance: dict) -> str:
    """Writes a new version (model, metrics, curves, importances, model card), then points CURRENT at it."""
    root = model_root(config)
    root.mkdir(parents=True, exist_ok=True)
    version = _claim_version(root)
    folder = root / version
    trained.model.save(str(folder / MODEL))
    metrics = {
        "model": config.model.name,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "feature_set": feature_set,
        "features": list(config.feature_sets[feature_set]),
        "split_percent": config.model.split,
        "priority": config.model.priority,
        **trained.metrics,
        "importances": trained.importances,
        "provenance": provenance,
    }
    (folder / METRICS).write_text(json.dumps(metrics, indent=2))
    _plot_curves(trained, metrics, folder)
    _plot_importances(trained.importances, folder / "feature_importance.png")
    (folder / CARD).write_text(model_card(metrics))
    _write_atomically(root / CURRENT, version)
    return version


def _plot_curves(trained: Trained, metrics: dict, folder: Path) -> None:
    scores, labels, test = trained.test_scores, trained.test_labels, metrics["test"]
    cut = scores >= metrics["threshold"]
    fpr, tpr, _ = skm.roc_curve(labels, scores)
    fig = Figure(figsize=(5, 5))  # a bare Figure renders PNG with Agg: no pyplot state, no display needed
    ax = fig.subplots()
    ax.plot(fpr, tpr, label=f"{metrics['chosen']} (AUC {test['auc_roc']:.3f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.scatter([(cut & ~labels).sum() / (~labels).sum()], [test["recall"]], color="black", zorder=3, label="threshold")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC, test split (n={test['rows']})")
    ax.legend(loc="lower right")
    fig.savefig(folder / "roc.png", dpi=100, bbox_inches="tight")

    precision, recall, _ = skm.precision_recall_curve(labels, scores)
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.plot(recall, precision, label=f"{metrics['chosen']} (AP {test['pr_auc']:.3f})")
    ax.axhline(labels.mean(), linestyle=":", color="grey", label="base rate")
    ax.scatter([test["recall"]], [test["precision"]], color="black", zorder=3, label="threshold")
    ax.set(xlabel="recall", ylabel="precision", title=f"Precision-recall, test split (n={test['rows']})")
    ax.legend(loc="lower left")
    fig.savefig(folder / "pr.png", dpi=100, bbox_inches="tight")


def _plot_importances(importances: dict[str, float], path: Path) -> None:
    top = list(importances.items())[:TOP_COLUMNS][::-1]
    fig = Figure(figsize=(7, 0.3 * len(top) + 1))
    ax = fig.subplots()
    ax.barh(
        [c for c, _ in top],
        [w for _, w in top],
        color=["tab:red" if c in SALES_TEAM_COLUMNS else "tab:blue" for c, _ in top],
    )
    ax.set(xlabel="share of importance (red: recorded by the sales team)", title="Importance per silver column")
    fig.savefig(path, dpi=100, bbox_inches="tight")


def _set_meaning(features: list[str]) -> str:
    leaking = sorted(SALES_TEAM_COLUMNS.intersection(features))
    if leaking:
        return (
            f"This model uses {len(leaking)} columns the sales team records during or after contact "
            f'({", ".join(f"`{c}`" for c in leaking)}). Those columns carry the outcome (the tag "Closed by '
            'Horizzon" converts 99%), so the score mostly reflects what the team already knows about a lead it has '
            "worked. Use it to rank and follow up worked leads, not to decide whom to contact first: a lead that has "
            "not been contacted yet lacks exactly the columns the model leans on, and its score is much less accurate "
            "than the test figures below."
        )
    return (
        "This model uses none of the sales team's columns: only the lead's channel and source, its form answers and "
        "its browsing on the site. Its score can rank new leads before anyone contacts them, and it is less accurate "
        "than a model that sees the sales team's notes, because it does not know them. It learned from each lead's "
        "latest state, whose browsing totals can include visits made after contact, so on a lead that has just "
        "arrived it may do somewhat worse than the test figures below."
    )


def model_card(metrics: dict) -> str:
    """The model card in Markdown, generated from the metrics so it cannot drift from them."""
    test, data, split = metrics["test"], metrics["data"], metrics["split_percent"]
    chosen = metrics["candidates"][metrics["chosen"]]
    git = metrics["provenance"].get("git") or {}
    dirty = " plus uncommitted changes" if git.get("uncommitted_changes") else ""
    matrix = test["confusion_matrix"]
    rows = [
        f"| {name} | {c['description']} | {', '.join(f'{k}={v}' for k, v in c['params'].items())} | "
        f"{c['validation_auc']:.4f} |"
        for name, c in metrics["candidates"].items()
    ]
    tuning = chosen["tuning"]
    tuned = (
        f"Tuned with a TrainValidationSplit over {len(tuning['grid'])} settings ({tuning['train_ratio']:.0%} of the "
        "train split fits, the rest scores); the best setting was refitted on the whole train split."
        if tuning
        else "Not tuned: fitted with the settings shown."
    )
    top = list(metrics["importances"].items())[:10]
    priority = metrics["priority"]
    return "\n".join(
        [
            f"# Model card: `{metrics['model']}` version {metrics['version']}",
            "",
            f"Trained {metrics['created_at']} in `{metrics['provenance'].get('env')}` from git "
            f"`{git.get('commit') or 'unknown'}`{dirty} "
            f"({git.get('branch') or 'unknown branch'}, {git.get('url') or 'no remote'}); seed {metrics['seed']}.",
            "",
            "## What it predicts",
            "",
            "`score`: the probability that a lead contacts an agent (`contacted_agent`). "
            f"`prediction`: score >= {metrics['threshold']:.4f}, the cut that {metrics['threshold_rule']}. "
            f"`priority`: hot when score >= {priority['hot']}, warm when >= {priority['warm']}, else cold "
            "(fixed bands from conf, not fitted).",
            "",
            f"## Feature set: `{metrics['feature_set']}`",
            "",
            _set_meaning(metrics["features"]),
            "",
            f"Columns: {', '.join(f'`{c}`' for c in metrics['features'])}.",
            "",
            "## Data",
            "",
            "`gold_training`: each lead's latest silver event that has a label. Split by a hash of `prospect_id` "
            f"(train {split['train']}%, validation {split['validation']}%, test {split['test']}%), so a lead keeps its "
            "split across runs and as data grows.",
            "",
            "| split | leads | contacted an agent |",
            "| --- | --- | --- |",
            *[
                f"| {name} | {d['rows']} | {d['positives']} ({d['positives'] / d['rows']:.1%}) |"
                for name, d in data.items()
            ],
            "",
            "## Model",
            "",
            "Candidates were fitted on train and compared on validation AUC-ROC; test was used once, for the figures "
            "below.",
            "",
            "| candidate | what | settings | validation AUC |",
            "| --- | --- | --- | --- |",
            *rows,
            "",
            f"Chosen: **{metrics['chosen']}**. {tuned}",
            "",
            f"## Test metrics ({test['rows']} leads, {test['positives']} contacted an agent)",
            "",
            "| AUC-ROC | PR-AUC (average precision) | accuracy | precision | recall | F1 | log loss | Brier |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            f"| {test['auc_roc']:.4f} | {test['pr_auc']:.4f} | {test['accuracy']:.4f} | {test['precision']:.4f} | "
            f"{test['recall']:.4f} | {test['f1']:.4f} | {test['log_loss']:.4f} | {test['brier']:.4f} |",
            "",
            f"Confusion matrix at the threshold: {matrix['tp']} true positives, {matrix['fp']} false positives, "
            f"{matrix['fn']} false negatives, {matrix['tn']} true negatives. Curves: `roc.png`, `pr.png`.",
            "",
            "## Most important columns",
            "",
            *[f"- `{c}`: {w:.1%}" for c, w in top],
            "",
            "(`feature_importance.png`; one-hot slots are summed back to their column.)",
            "",
            "## Limits",
            "",
            "- Learned from X Education's lead export (an online-course company) re-read as home buying; nothing here "
            "shows the relations hold for real home buyers.",
            "- The threshold and priority bands are fixed cuts of the score: the threshold was chosen for accuracy, "
            "so it weighs a missed lead and a wasted call alike.",
            '- A category never seen in training (a new lead source, say) scores as "unknown" for that column; '
            "scores for leads unlike the training data are less reliable than the test figures.",
            "- Leads whose latest event has no label are not in training; the label is the latest event's.",
            "",
        ]
    )
