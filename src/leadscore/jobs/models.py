"""List a registered model's versions, newest first: aliases, chosen learner, test metrics, the data it learned from.

The model is conf's feature set's (`--feature-set` for another). `--format json` prints every version with its
tags, where each alias move is recorded (`champion_since`, `champion_reason`, `champion_until`, ...).
"""

from __future__ import annotations

import argparse

from leadscore.config import Config
from leadscore.lifecycle import tracking
from leadscore.lifecycle.registry import describe, model_name, versions
from leadscore.output import add_format_argument, emit

COLUMNS = (
    "version", "aliases", "created_at", "chosen", "test_auc_roc", "test_pr_auc", "test_accuracy",
    "test_calibration_error", "threshold", "gold_training_version", "run_id",
)  # fmt: skip
TABLE_COLUMNS = COLUMNS[:-1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--feature-set", help="whose registered model (default: conf model.feature_set)")
    add_format_argument(parser)


def run(args: argparse.Namespace, config: Config) -> dict:
    client = tracking.client(config)
    name = model_name(config, args.feature_set)
    rows = [describe(client, found) for found in versions(client, name)]
    if args.format != "json":
        rows = [{k: v for k, v in row.items() if k != "tags"} for row in rows]
    return emit(rows, COLUMNS, args.format, {"model": name, "registry": config.mlflow.registry_uri}, TABLE_COLUMNS)
