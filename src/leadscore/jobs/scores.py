"""Show lead scores as agents see them now, or as gold.lead_scores was at a version or a time (Delta time travel).

Now is the agents' view: lead_scores and the newer scores of gold.score_events, which the live query writes seconds
after a lead's activity lands. A version or a time reads lead_scores alone, the table of record.

Highest score first. --format table shows what an agent reads, then one JSON summary line; csv and json carry every
column, and stdout holds only that document (the summary goes to stderr).
"""

from __future__ import annotations

import argparse

from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.output import add_format_argument, emit, rows_of
from leadscore.spark import get_spark
from leadscore.timetravel import SCORE_VIEW, as_of_text, read_as_of, read_live, select_scores


def add_arguments(parser: argparse.ArgumentParser) -> None:
    as_of = parser.add_mutually_exclusive_group()
    as_of.add_argument("--version", type=int, help="the table as it was at this version (see `leadscore history`)")
    as_of.add_argument(
        "--timestamp", help="the table as it was at this time, in the session time zone: '2025-01-31 12:00:00'"
    )
    parser.add_argument("--lead", help="one lead: its prospect ID or lead number")
    parser.add_argument("--top", type=int, help="only the K highest scores")
    add_format_argument(parser)


def run(args: argparse.Namespace, config: Config) -> dict:
    if args.top is not None and args.top < 1:
        raise LeadscoreError(f"--top must be at least 1, not {args.top}")
    spark = get_spark(config.spark, "leadscore-scores")
    table = config.table("lead_scores")
    now = args.version is None and args.timestamp is None
    scores_df = read_live(spark, config) if now else read_as_of(spark, table, args.version, args.timestamp)
    scores = select_scores(scores_df, args.lead, args.top)
    rows = rows_of(scores)
    if args.lead is not None and not rows:
        raise LeadscoreError(f"no lead {args.lead} in {table.logical}{as_of_text(args.version, args.timestamp)}")
    summary = {
        "table": table.sql_name,
        "version": args.version,
        "timestamp": args.timestamp,
        "lead": args.lead,
        "top": args.top,
    }
    return emit(rows, scores.columns, args.format, summary, SCORE_VIEW)
