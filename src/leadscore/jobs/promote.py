"""Make a version the champion: by hand (a promotion the metrics did not make, or a roll-back), or from an A/B test.

Moves the alias `champion` of conf's feature set's registered model to `--version` (a challenger holding that
version loses its alias); the move and its reason are recorded on the versions and printed as JSON. A running
stream picks the new champion up between two micro-batches. `--from-ab` promotes the challenger only when the
latest `leadscore ab-report` shows it converting better among hot leads beyond the interval; otherwise it exits
with status 2, naming the figure and its interval.
"""

from __future__ import annotations

import argparse
import getpass

from pyspark.sql import functions as F

from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.experiments.decision import challenger_to_promote
from leadscore.lifecycle import tracking
from leadscore.lifecycle.promotion import promote
from leadscore.lifecycle.registry import CHALLENGER, model_name, version_by_alias
from leadscore.output import rows_of
from leadscore.spark import get_spark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    chosen = parser.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--version", help="the version to make champion (`leadscore models` lists them)")
    chosen.add_argument(
        "--from-ab", action="store_true", help="the challenger, if conf ab.experiment's report shows it better"
    )
    parser.add_argument("--feature-set", help="whose registered model (default: conf model.feature_set)")
    parser.add_argument("--reason", default="promoted by hand", help="why, recorded on the version")


def run(args: argparse.Namespace, config: Config) -> dict:
    client = tracking.client(config)
    name = model_name(config, args.feature_set)
    if not args.from_ab:
        return promote(client, name, args.version, f"{args.reason} (leadscore promote, {getpass.getuser()})")
    challenger = version_by_alias(client, name, CHALLENGER)
    version = challenger_to_promote(_latest_report(config), None if challenger is None else str(challenger.version))
    reason = f"won A/B experiment {config.ab.experiment} (leadscore promote --from-ab, {getpass.getuser()})"
    return promote(client, name, version, reason)


def _latest_report(config: Config) -> list[dict]:
    spark = get_spark(config.spark, "leadscore-promote")
    results = config.table("ab_results")
    if not results.exists(spark):
        raise LeadscoreError(f"no A/B report at {results.location}: run `leadscore ab-report` first")
    experiment = results.read(spark).where(F.col("experiment") == config.ab.experiment)
    latest = experiment.agg(F.max("window_end")).first()[0]
    return rows_of(experiment.where(F.col("window_end") == latest)) if latest is not None else []
