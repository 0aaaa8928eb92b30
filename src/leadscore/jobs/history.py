"""List the versions of gold.lead_scores, newest first: when, which operation, how many leads inserted and updated.

Each stream micro-batch is one MERGE, so one version; `leadscore scores --version N` reads any of them back and
`leadscore diff` compares two. --format csv or json writes only that document to stdout (the summary to stderr).
"""

from __future__ import annotations

import argparse

from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.output import add_format_argument, emit
from leadscore.spark import get_spark
from leadscore.timetravel import HISTORY_COLUMNS, history


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=20, help="newest versions to list (default: 20)")
    add_format_argument(parser)


def run(args: argparse.Namespace, config: Config) -> dict:
    if args.limit < 1:
        raise LeadscoreError(f"--limit must be at least 1, not {args.limit}")
    spark = get_spark(config.spark, "leadscore-history")
    table = config.table("lead_scores")
    versions = history(spark, table, args.limit)
    return emit(versions, HISTORY_COLUMNS, args.format, {"table": table.sql_name, "limit": args.limit})
