"""Make a version the champion by hand: a promotion the metrics did not make, or a roll-back to an earlier version.

Moves the alias `champion` of conf's feature set's registered model to `--version` (a challenger holding that
version loses its alias); the move and its reason are recorded on the versions and printed as JSON. A running
stream picks the new champion up between two micro-batches.
"""

from __future__ import annotations

import argparse
import getpass

from leadscore.config import Config
from leadscore.lifecycle import tracking
from leadscore.lifecycle.promotion import promote
from leadscore.lifecycle.registry import model_name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", required=True, help="the version to make champion (`leadscore models` lists them)")
    parser.add_argument("--feature-set", help="whose registered model (default: conf model.feature_set)")
    parser.add_argument("--reason", default="promoted by hand", help="why, recorded on the version")


def run(args: argparse.Namespace, config: Config) -> dict:
    client = tracking.client(config)
    name = model_name(config, args.feature_set)
    return promote(client, name, args.version, f"{args.reason} (leadscore promote, {getpass.getuser()})")
