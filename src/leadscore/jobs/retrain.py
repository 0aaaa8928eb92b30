"""Retrain when there is something new to learn: the scheduled job of the model lifecycle.

When silver has changed since the champion learned (its run's `silver_version`), or with --force, trains exactly as
`leadscore train` does: the new version becomes `challenger` and is promoted only if it beats the champion on the
same test split by conf's margin. Otherwise nothing is trained. The last line is the decision as JSON: `promoted`,
`kept` (the champion stays, the new version is the challenger) or `skipped`.
"""

from __future__ import annotations

import argparse

from leadscore.cli import entry_point
from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.jobs import train
from leadscore.lifecycle import tracking
from leadscore.lifecycle.registry import CHAMPION, model_name, registered, version_by_alias
from leadscore.spark import get_spark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    train.add_arguments(parser)
    parser.add_argument("--force", action="store_true", help="train even when silver has not changed")


def run(args: argparse.Namespace, config: Config) -> dict:
    spark = get_spark(config.train_spark, "leadscore-retrain", spark_ml=True)  # over Spark Connect: stops here
    client = tracking.client(config)
    name = model_name(config, args.feature_set)
    champion = version_by_alias(client, name, CHAMPION) if registered(client, name) else None
    if champion is not None and not args.force:
        silver = config.table("silver_leads")
        if not silver.exists(spark):
            raise LeadscoreError(f"no silver table at {silver.location}: run `leadscore ingest` first")
        now = str(silver.latest_version(spark))
        learned = client.get_run(champion.run_id).data.params.get("silver_version")
        if learned == now:
            return {
                "decision": "skipped",
                "reason": f"silver is at version {now}, as when champion version {champion.version} learned",
                "model": name,
                "champion_version": str(champion.version),
            }
    trained = train.new_version(spark, args, config)
    return {**trained["promotion"], "training": {k: v for k, v in trained.items() if k != "promotion"}}


main = entry_point("retrain")
