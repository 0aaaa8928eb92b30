"""Who scores: a new version is the `challenger`; it becomes `champion` only by beating it, or by a person's hand.

The comparison is on the same rows: the champion is loaded and scored on the new training's test split (a hash of
prospect_id, so neither model learned from those leads), with its own threshold, and the challenger must beat it by
conf's margin on conf's metric. Every decision is written into the training's run (`promotion.json`, tag
`promotion`) and every alias move onto the versions (lifecycle.registry.move_alias).
"""

from __future__ import annotations

import logging

from mlflow import MlflowClient
from pyspark.sql import DataFrame

from leadscore.config import Config
from leadscore.lifecycle.publish import Published
from leadscore.lifecycle.registry import (
    CHALLENGER,
    CHAMPION,
    drop_alias,
    load,
    model_version,
    move_alias,
    version_by_alias,
)
from leadscore.training.evaluation import binary_metrics, scores_and_labels

log = logging.getLogger("leadscore")

PROMOTION_FILE = "promotion.json"


def _split_of(client: MlflowClient, run_id: str) -> str | None:
    return client.get_run(run_id).data.params.get("split")


def challenge(client: MlflowClient, config: Config, published: Published, test: DataFrame) -> dict:
    """Makes the new version champion (first version, or it beats the champion by the margin) or challenger."""
    name, version = published.name, published.version
    metric, margin = config.model.promotion["metric"], float(config.model.promotion["margin"])
    challenger_value = published.metrics["test"][metric]
    decision = {"model": name, "version": version, "metric": metric, "margin": margin, "challenger": challenger_value}
    champion = version_by_alias(client, name, CHAMPION)
    if champion is None:
        move_alias(client, name, CHAMPION, version, f"first version of {name} (run {published.run_id})")
        decision |= {"decision": "promoted", "reason": "first version of the model", "previous_champion": None}
    elif _split_of(client, champion.run_id) != _split_of(client, published.run_id):
        move_alias(client, name, CHALLENGER, version, f"trained in run {published.run_id}")
        decision |= {
            "decision": "kept",
            "champion_version": str(champion.version),
            "reason": f"champion version {champion.version} was trained on another split: compare and promote by hand",
        }
    else:
        move_alias(client, name, CHALLENGER, version, f"trained in run {published.run_id}")
        held = load(client, config, champion)
        scores, labels = scores_and_labels(held.model, test)
        champion_value = binary_metrics(scores, labels, held.threshold)[metric]
        gain = challenger_value - champion_value
        decision |= {"champion_version": held.version, "champion": champion_value, "gain": gain}
        verdict = (
            f"test {metric} {challenger_value:.4f} against champion version {held.version}'s {champion_value:.4f} "
            f"on the same {len(labels)} test leads: {gain:+.4f}, margin {margin}"
        )
        if gain > 0 and gain >= margin:
            move_alias(client, name, CHAMPION, version, verdict)
            drop_alias(client, name, CHALLENGER, f"version {version} became champion")
            decision |= {"decision": "promoted", "reason": verdict, "previous_champion": held.version}
        else:
            decision |= {"decision": "kept", "reason": verdict}
    log.info("train: %s version %s %s: %s", name, version, decision["decision"], decision["reason"])
    client.log_dict(published.run_id, decision, PROMOTION_FILE)
    client.set_tag(published.run_id, "promotion", decision["decision"])
    return decision


def promote(client: MlflowClient, name: str, version: str, reason: str) -> dict:
    """A person's promotion (or roll-back): `champion` moves to the version, whatever the metrics say."""
    target = model_version(client, name, version)
    previous = move_alias(client, name, CHAMPION, str(target.version), reason)
    challenger = version_by_alias(client, name, CHALLENGER)
    if challenger is not None and str(challenger.version) == str(target.version):
        drop_alias(client, name, CHALLENGER, f"version {target.version} became champion")
    return {"model": name, "champion": str(target.version), "previous_champion": previous, "reason": reason}
