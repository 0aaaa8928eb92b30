"""The product in one run: history ingested, a model trained, the rest of the leads streamed in and scored live.

generate (or take an export) -> keep 70% as history -> ingest -> train (an MLflow run; the first registered version
becomes champion) -> replay the other 30% as files, with follow-up activity, while the stream scores them with the
champion -> the agents' queue, the table's history, one time-travel query.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from pyspark.sql import SparkSession

from leadscore import cli, realtime, simulate
from leadscore.config import Config
from leadscore.generator import generate
from leadscore.ingest import ingest
from leadscore.jobs import train as train_job
from leadscore.streams import progress_logged
from leadscore.timetravel import agent_queue, read_as_of, render, rows_of, score_changes, version_history

log = logging.getLogger("leadscore")


def _show(title: str, rows: list[dict], columns) -> None:
    print(f"\n== {title}\n{render(rows, columns, 'table')}", flush=True)


def _export(config: Config, input_csv: str | None, rows: int, seed: int) -> Path:
    if input_csv:
        return Path(input_csv)
    out = Path(config.lakehouse) / "demo_input"
    return generate(rows=rows, seed=seed, files=1, out_dir=out)[0]


def run(
    spark: SparkSession,
    config: Config,
    *,
    input_csv: str | None,
    rows: int,
    files: int,
    interval_seconds: float,
    seed: int,
) -> dict:
    started = time.monotonic()
    lakehouse = Path(config.lakehouse)
    export = _export(config, input_csv, rows, seed)
    parts = lakehouse / "demo_parts"
    historical, holdout = parts / "historical" / "leads.csv", parts / "holdout.csv"
    historical.parent.mkdir(parents=True, exist_ok=True)
    split = simulate.split_export(export, historical, holdout, historical_share=0.7, seed=seed)
    log.info("demo: %d historical leads, %d to stream", split["historical"], split["holdout"])

    counts = ingest(spark, config, str(historical.parent))
    _show("ingested history", [counts], list(counts))
    model = train_job.run(cli.build_parser().parse_args(["train"]), config)  # the job's own defaults
    _show(
        f"model {model['model']}, registered in {config.mlflow.registry_uri}",
        [{"version": model["model_version"], **model["promotion"], "chosen": model["chosen"], **model["test"]}],
        ["version", "decision", "reason", "chosen", "auc_roc", "pr_auc", "accuracy"],
    )

    landing = Path(config.landing)
    if landing.exists():
        shutil.rmtree(landing)
    landing.mkdir(parents=True)
    with progress_logged(spark):
        queries = realtime.start(spark, config, str(landing))  # the streams run while the files land
        try:
            replayed = simulate.replay(
                holdout, landing, files, interval_seconds, follow_up_share=0.2, seed=seed, seen=historical
            )
            realtime.drain(queries)
        finally:
            for query in queries:
                query.stop()

    table = config.table("lead_scores")
    now = read_as_of(spark, table)
    queue = agent_queue(now, 10)
    _show("hot leads to call now (never those who opted out of calls)", rows_of(queue), queue.columns)
    history = version_history(table.history(spark))
    versions = rows_of(history)
    _show("gold.lead_scores history (newest first)", versions[:12], history.columns)
    first_merge = min(r["version"] for r in versions if r["operation"] == "MERGE")
    changes = score_changes(read_as_of(spark, table, version=first_merge), now).where("change = 'changed'")
    _show(
        f"time travel: leads whose score changed since version {first_merge} (VERSION AS OF {first_merge})",
        rows_of(changes.limit(10)),
        changes.columns,
    )
    return {
        "historical_leads": split["historical"],
        "streamed_files": replayed["files"],
        "streamed_rows": replayed["rows"],
        "follow_ups": replayed["follow_ups"],
        "scored_leads": now.count(),
        "table_versions": len(versions),
        "model": model["model"],
        "model_version": model["model_version"],
        "promotion": model["promotion"]["decision"],
        "seconds": round(time.monotonic() - started, 1),
    }
