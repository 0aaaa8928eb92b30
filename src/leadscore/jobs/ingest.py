"""Ingest landing CSV files (or a Kafka topic's messages) into bronze and silver, exactly once, and print this run's
counts.

Re-running ingests only files that landed (or messages that arrived) since; a file with bytes that are not UTF-8,
another header or no rows stops the run with its name and nothing committed. A bad message never stops it: it is
quarantined, naming its topic, partition and offset.
"""

from __future__ import annotations

import argparse

from leadscore.cli import entry_point
from leadscore.config import Config
from leadscore.ingest.query import ingest
from leadscore.jobs.arguments import add_encoding_argument, add_source_arguments, source_overrides
from leadscore.spark import get_spark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser, "landing folder of CSV exports, or one CSV file")
    add_encoding_argument(parser)
    parser.set_defaults(config_overrides=lambda args: {"ingest.encoding": args.encoding, **source_overrides(args)})


def run(args: argparse.Namespace, config: Config) -> dict:
    spark = get_spark(config.spark, "leadscore-ingest")
    return ingest(spark, config, args.source)


main = entry_point("ingest")
