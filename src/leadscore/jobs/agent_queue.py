"""List the hot leads to call now, highest score first; never a lead that opted out of calls.

Reads the agents' view: gold.lead_scores and the newer scores of gold.score_events, which the live query writes
seconds after a lead's activity lands. (Not named queue.py: spark-submit puts this folder
first on sys.path, where a queue.py would stand in for the standard library's.)
"""

from __future__ import annotations

import argparse

from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.output import add_format_argument, emit, rows_of
from leadscore.spark import get_spark
from leadscore.timetravel import agent_queue, read_live


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--top", type=int, default=10, help="leads to list (default: 10)")
    add_format_argument(parser)


def run(args: argparse.Namespace, config: Config) -> dict:
    if args.top < 1:
        raise LeadscoreError(f"--top must be at least 1, not {args.top}")
    spark = get_spark(config.spark, "leadscore-queue")
    table = config.table("lead_scores")
    queue = agent_queue(read_live(spark, config), args.top)
    return emit(rows_of(queue), queue.columns, args.format, {"table": table.sql_name, "top": args.top})
