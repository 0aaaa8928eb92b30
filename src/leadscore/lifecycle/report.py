"""What a training logs for people: the ROC, precision-recall, calibration and importance plots, and the model card.

Everything is drawn from the training's metrics, so the card and the plots cannot drift from the figures MLflow
holds. The plots are bare matplotlib Figures rendered to PNG with Agg: no pyplot state, no display needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from leadscore.training.evaluation import CALIBRATION_BINS
from leadscore.training.features import SALES_TEAM_COLUMNS
from leadscore.training.fit import Trained

TOP_COLUMNS = 20  # bars in feature_importance.png
PLOTS = ("roc.png", "pr.png", "calibration.png", "feature_importance.png")
MODEL_CARD = "model_card.md"


def write_plots(trained: Trained, folder: Path) -> list[Path]:
    """The four plots of the chosen model on the test split, written into `folder`."""
    _plot_curves(trained, trained.metrics, folder)
    _plot_calibration(trained, folder / "calibration.png")
    _plot_importances(trained.importances, folder / "feature_importance.png")
    return [folder / name for name in PLOTS]


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


def _plot_calibration(trained: Trained, path: Path) -> None:
    test, scores = trained.metrics["test"], trained.test_scores
    rate, mean_score = calibration_curve(trained.test_labels, scores, n_bins=CALIBRATION_BINS)
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.hist(scores, bins=np.linspace(0, 1, CALIBRATION_BINS + 1), weights=np.full(len(scores), 1 / len(scores)),
            color="lightgrey", label="share of leads per bin")  # fmt: skip
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
    ax.plot(mean_score, rate, marker="o", label=f"{trained.metrics['chosen']} (ECE {test['calibration_error']:.3f})")
    ax.set(xlabel="score", ylabel="contact rate", title=f"Calibration, test split (n={test['rows']})")
    ax.legend(loc="upper left")
    fig.savefig(path, dpi=100, bbox_inches="tight")


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


FEATURE_SET_USES = (
    "Each feature set is its own registered model. A set holding the sales team's columns (`full`) ranks leads the "
    "team has already worked: follow-ups, re-engagement, auditing the queue. A set without them (`pre_contact`) is "
    "the one to rank new arrivals with, before anyone has contacted them. Never score new arrivals with a model "
    "that uses the team's columns: they are empty for such leads, and its test figures do not hold for them."
)


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
        f"{c['validation_auc']:.4f} | {c['test']['auc_roc']:.4f} |"
        for name, c in metrics["candidates"].items()
    ]
    provenance = metrics["provenance"]
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
            f"Trained {metrics['created_at']} in `{provenance.get('env')}` from git "
            f"`{git.get('commit') or 'unknown'}`{dirty} "
            f"({git.get('branch') or 'unknown branch'}, {git.get('url') or 'no remote'}); seed {metrics['seed']} "
            f"over {metrics['partitions']} partitions. "
            f"MLflow run `{provenance['run_id']}`; learned from `{provenance['gold_training_table']}` at Delta "
            f"version {provenance['gold_training_version']} (silver version {provenance['silver_version']}).",
            "",
            "## Lifecycle",
            "",
            "A new version gets the alias `challenger`. It takes `champion`, the alias scoring follows, when its test "
            f"{metrics['promotion']['metric']} beats the champion's on the same test split by at least "
            f"{metrics['promotion']['margin']} (the first version of a model becomes champion at once), or when a "
            "person runs `leadscore promote --version N`. `leadscore models` shows where the aliases are now.",
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
            FEATURE_SET_USES,
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
            "Candidates were fitted on train and compared on validation AUC-ROC; their test AUC is shown for "
            "reference only, it chose nothing.",
            "",
            "| candidate | what | settings | validation AUC | test AUC |",
            "| --- | --- | --- | --- | --- |",
            *rows,
            "",
            f"Chosen: **{metrics['chosen']}** ({metrics['choice_rule']}). {tuned}",
            "",
            f"## Test metrics ({test['rows']} leads, {test['positives']} contacted an agent)",
            "",
            "| AUC-ROC | PR-AUC (average precision) | accuracy | precision | recall | F1 | log loss | Brier | ECE |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            f"| {test['auc_roc']:.4f} | {test['pr_auc']:.4f} | {test['accuracy']:.4f} | {test['precision']:.4f} | "
            f"{test['recall']:.4f} | {test['f1']:.4f} | {test['log_loss']:.4f} | {test['brier']:.4f} | "
            f"{test['calibration_error']:.4f} |",
            "",
            f"Confusion matrix at the threshold: {matrix['tp']} true positives, {matrix['fp']} false positives, "
            f"{matrix['fn']} false negatives, {matrix['tn']} true negatives. Curves: `roc.png`, `pr.png`; "
            "`calibration.png` compares the score with the contact rate (ECE: expected calibration error, the gap "
            "averaged over ten score bins).",
            "",
            "## Most important columns",
            "",
            *[f"- `{c}`: {w:.1%}" for c, w in top],
            "",
            "(`feature_importance.png`; a column's slots are summed back to it.)",
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
