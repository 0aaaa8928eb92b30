"""Ingest landing CSV files into bronze and silver, exactly once per file, and print this run's counts.

Re-running ingests only files that landed since; a file with bytes that are not UTF-8, another header or no rows
stops the run with its name and nothing committed.
"""

from __future__ import annotations

import argparse

from leadscore.cli import entry_point
from leadscore.config import Config
from leadscore.ingest.query import ingest
from leadscore.jobs.arguments import add_encoding_argument
from leadscore.spark import get_spark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help="landing folder of CSV exports, or one CSV file")
    add_encoding_argument(parser)


def run(args: argparse.Namespace, config: Config) -> dict:
    spark = get_spark(config.spark, "leadscore-ingest")
    return ingest(spark, config, args.source)


main = entry_point("ingest")
