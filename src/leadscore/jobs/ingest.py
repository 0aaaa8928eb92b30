"""Ingest landing CSV files into bronze and silver, exactly once per file, and print this run's counts.

Re-running ingests only files that landed since; a file with bytes that are not UTF-8, another header or no rows
stops the run with its name and nothing committed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from leadscore.cli import entry_point
from leadscore.config import Config
from leadscore.ingest import ingest
from leadscore.spark import get_spark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help="landing folder of CSV exports, or one CSV file")
    add_encoding_argument(parser)


def add_encoding_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--encoding", help="text encoding of the landing files, e.g. windows-1252 (default: conf ingest.encoding)"
    )
    parser.set_defaults(config_overrides=lambda args: {"ingest.encoding": args.encoding})


def local_path(source: str) -> str:
    """Local paths are made absolute so the checkpoint is the same from any working directory."""
    return source if "://" in source or source.startswith("/Volumes/") else str(Path(source).resolve())


def run(args: argparse.Namespace, config: Config) -> dict:
    spark = get_spark(config.spark, "leadscore-ingest")
    return ingest(spark, config, local_path(args.source))


main = entry_point("ingest")
