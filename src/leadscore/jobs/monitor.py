"""Check recent leads for drift from the champion model's training data; write the metrics to gold.drift.

PSI per feature (bins fixed on the training data and recorded in gold.drift_baseline), the shift of the score
distribution, null shares and the quarantine rate of the window, against conf `monitor.thresholds`. The last line is
the run's JSON; a breach exits with status 1 (after writing its rows), so a scheduled run fails visibly.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from leadscore.cli import entry_point
from leadscore.config import Config
from leadscore.errors import CheckFailed, LeadscoreError
from leadscore.monitoring import monitor, reference
from leadscore.spark import get_spark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window-hours", type=float, help="length of the window of recent leads (default: conf)")
    parser.add_argument(
        "--window-end", help="end of the window, ISO time in UTC unless it says otherwise (default: now)"
    )


def _window_end(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        end = datetime.fromisoformat(text)
    except ValueError as error:
        raise LeadscoreError(f"--window-end {text!r} is not an ISO time: e.g. 2025-03-01T12:00:00") from error
    return end if end.tzinfo else end.replace(tzinfo=UTC)


def run(args: argparse.Namespace, config: Config) -> dict:
    hours = config.monitor.window_hours if args.window_hours is None else args.window_hours
    if hours <= 0:
        raise LeadscoreError(f"--window-hours must be positive, not {hours}")
    window = monitor.Window.ending(_window_end(args.window_end), hours)
    spark = get_spark(config.spark, "leadscore-monitor", spark_ml=True)
    if not config.table("silver_leads").exists(spark):
        raise LeadscoreError(
            f"no silver table at {config.table('silver_leads').location}: run `leadscore ingest` first"
        )
    result = monitor.run(spark, config, reference.champion(spark, config), window)
    if result["breaches"]:
        names = ", ".join(f"{b['column_name']} {b['stattest_name']}" for b in result["breaches"])
        raise CheckFailed(f"{len(result['breaches'])} drift breach(es): {names}", result)
    return result


main = entry_point("monitor")
