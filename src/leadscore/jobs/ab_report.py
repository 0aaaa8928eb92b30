"""Report the A/B test: each arm's leads joined with their outcomes, written to gold.ab_results and printed.

Per arm (conf `ab`, `leadscore stream --ab`): leads, outcomes known, conversions, the conversion rate among the
leads the arm called hot, AUC and precision at the top decile where outcomes are known, each with its interval, and
the challenger's difference from the champion with its own; the verdict says whether the difference is significant
at conf `ab.level` and, if not, how many more outcomes it needs. The experiment's rows of gold.ab_results are
replaced (its history keeps earlier reports); the latest window's rows are printed, the verdict on stderr.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from datetime import UTC, datetime

from leadscore.cli import entry_point
from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.experiments import outcomes, report
from leadscore.output import add_format_argument, emit
from leadscore.spark import get_spark

log = logging.getLogger("leadscore")
SHOWN = ("arm", "leads", "outcomes_known", "hot_conversion_rate", "hot_conversion_rate_low",
         "hot_conversion_rate_high", "auc", "auc_low", "auc_high", "precision_top_decile")  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--experiment", help="the experiment to report (default: conf ab.experiment)")
    add_format_argument(parser)


def run(args: argparse.Namespace, config: Config) -> dict:
    settings = config.ab if args.experiment is None else replace(config.ab, experiment=args.experiment)
    spark = get_spark(config.spark, "leadscore-ab-report")
    score_events, silver = config.table("score_events"), config.table("silver_leads")
    for table in (score_events, silver):
        if not table.exists(spark):
            raise LeadscoreError(f"no table at {table.location}: run `leadscore stream --ab` first")
    acted = outcomes.acted_on(score_events.read(spark), silver.read(spark), settings.experiment).toPandas()
    if acted.empty:
        raise LeadscoreError(f"experiment {settings.experiment!r} has no scored lead: run `leadscore stream --ab`")
    rows = report.rows(acted, settings, datetime.now(UTC))
    results = config.table("ab_results")
    frame = spark.createDataFrame(rows, report.SCHEMA)
    results.create_if_missing(spark, frame.schema)
    writer = frame.write.mode("overwrite").option("replaceWhere", f"experiment = '{_quoted(settings.experiment)}'")
    results.save(writer)
    latest = [r for r in rows if r["window_end"] == rows[-1]["window_end"]]
    log.info("ab-report: %s", latest[-1]["verdict"])
    summary = {"experiment": settings.experiment, "verdict": latest[-1]["verdict"],
               "significant": latest[-1]["significant"], "table": results.sql_name}  # fmt: skip
    return emit([{c: r[c] for c in report.COLUMNS} for r in latest], report.COLUMNS, args.format, summary, SHOWN)


def _quoted(text: str) -> str:
    return text.replace("'", "''")


main = entry_point("ab-report")
