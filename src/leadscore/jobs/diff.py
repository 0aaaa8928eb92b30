"""Show the leads whose score or priority changed between two versions of gold.lead_scores, and the leads added.

Old and new score and priority side by side, biggest score moves first. Versions are those `leadscore history`
lists. With --format table the last line is one JSON object with the counts; with csv or json stdout holds only that
document and the counts go to stderr.
"""

from __future__ import annotations

import argparse
from collections import Counter

from leadscore.config import Config
from leadscore.output import add_format_argument, emit, rows_of
from leadscore.spark import get_spark
from leadscore.timetravel import read_as_of, score_changes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="from_version", type=int, required=True, help="the older version")
    parser.add_argument("--to", dest="to_version", type=int, required=True, help="the newer version")
    add_format_argument(parser)


def run(args: argparse.Namespace, config: Config) -> dict:
    spark = get_spark(config.spark, "leadscore-diff")
    table = config.table("lead_scores")
    changes = score_changes(read_as_of(spark, table, args.from_version), read_as_of(spark, table, args.to_version))
    rows = rows_of(changes)
    counts = Counter(row["change"] for row in rows)
    summary = {"table": table.sql_name, "from": args.from_version, "to": args.to_version}
    summary |= {change: counts[change] for change in ("added", "changed", "removed")}
    return emit(rows, changes.columns, args.format, summary)
