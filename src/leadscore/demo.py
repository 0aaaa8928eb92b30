"""The product in one run: history ingested, a model trained, the rest of the leads streamed in and scored live.

generate (or take an export) -> keep 70% as history -> ingest -> train (an MLflow run; the first registered version
becomes champion) -> replay the other 30% as files, with follow-up activity, while the stream scores them with the
champion -> the agents' queue, the table's history, one time-travel query.

On a classic session every step runs in this process. Over Spark Connect (`SPARK_REMOTE`), each step runs on the
compute its bundle job is declared on, as a deployed bundle runs them: ingestion here, over Connect (the serverless
ingest job); training and the scores query in a classic process of their own (the train and score_stream jobs' job
cluster: `leadscore.spark.SPARK_ML_NEEDS_CLASSIC` says why). Both give the same tables.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from leadscore import realtime
from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.ingest import query as ingest_query
from leadscore.ingest.silver import ORDER, latest_per_lead
from leadscore.lifecycle.new_version import train_new_version
from leadscore.output import render, rows_of
from leadscore.schema import KEY
from leadscore.streaming.queries import progress_logged
from leadscore.synthetic import simulator
from leadscore.synthetic.generator import generate
from leadscore.timetravel import agent_queue, read_as_of, score_changes, version_history

log = logging.getLogger("leadscore")


def _show(title: str, rows: list[dict], columns) -> None:
    print(f"\n== {title}\n{render(rows, columns, 'table')}", flush=True)


def _export(config: Config, input_csv: str | None, rows: int, seed: int) -> Path:
    if input_csv:
        return Path(input_csv)
    out = Path(config.lakehouse) / "demo_input"
    return generate(rows=rows, seed=seed, files=1, out_dir=out)[0]


class ThisProcess:
    """A classic session: training and both queries run here, as `leadscore stream --source` runs them."""

    def __init__(self, spark: SparkSession, config: Config):
        self.spark, self.config = spark, config

    def train(self) -> dict:
        model = self.config.model  # what `leadscore train` does without flags
        return train_new_version(
            self.spark, self.config, feature_set=model.feature_set, seed=model.seed, tune=model.tune, git={}
        )

    @contextmanager
    def streaming(self, landing: Path) -> Iterator[None]:
        """Both queries run while the block lands files; then they drain what landed and stop."""
        with progress_logged(self.spark):
            queries = realtime.start(self.spark, self.config, str(landing))
            try:
                yield
                realtime.drain(queries)
            finally:
                for query in queries:
                    query.stop()


class AsTheBundleRuns:
    """Over Spark Connect: ingestion in this process (Connect), training and the scores query each in a classic
    process of its own (`leadscore train`, `leadscore stream` without a source), given this run's configuration."""

    CAUGHT_UP_TIMEOUT = 600  # seconds the scores query may take to score what the ingest query has written

    def __init__(self, spark: SparkSession, config: Config, config_argv: list[str], classic_env: dict[str, str]):
        self.spark, self.config, self.config_argv, self.classic_env = spark, config, config_argv, classic_env

    @staticmethod
    def environment() -> dict[str, str]:
        """This process's environment without SPARK_REMOTE: read before the Connect session starts, which adds
        variables of its own that would make a child a Connect client too."""
        return {name: value for name, value in os.environ.items() if name != "SPARK_REMOTE"}

    def _classic(self, command: str) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, "-m", "leadscore.cli", command, *self.config_argv], self.classic_env

    def train(self) -> dict:
        argv, env = self._classic("train")
        done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, text=True)  # its log goes to our stderr
        if done.returncode != 0:
            raise LeadscoreError(f"training in its classic process failed (exit status {done.returncode})")
        return json.loads(done.stdout.strip().splitlines()[-1])

    @contextmanager
    def streaming(self, landing: Path) -> Iterator[None]:
        """The ingest query runs here and the scores query in its classic process while the block lands files;
        then both stop, once every lead of silver is in lead_scores at its newest event."""
        ingesting = ingest_query.start(self.spark, self.config, str(landing), available_now=False)
        argv, env = self._classic("stream")
        scoring = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
        try:
            yield
            ingesting.processAllAvailable()
            self._wait_until_scored(scoring)
            scoring.send_signal(signal.SIGINT)  # the stream's own stop: its queries end between micro-batches
            if scoring.wait(timeout=120) != 0:
                raise LeadscoreError(f"the scores query's classic process failed (exit status {scoring.returncode})")
        finally:
            ingesting.stop()
            if scoring.poll() is None:
                scoring.kill()
                scoring.wait()

    def _wait_until_scored(self, scoring: subprocess.Popen) -> None:
        silver = self.config.table("silver_leads").read(self.spark)
        newest = latest_per_lead(silver).select(KEY, *ORDER)
        lead_scores = self.config.table("lead_scores")
        deadline = time.monotonic() + self.CAUGHT_UP_TIMEOUT
        while time.monotonic() < deadline:
            if scoring.poll() is not None:
                raise LeadscoreError(f"the scores query's classic process stopped (exit status {scoring.returncode})")
            created = lead_scores.exists(self.spark)  # by the scores query, when it starts
            if created and newest.exceptAll(lead_scores.read(self.spark).select(KEY, *ORDER)).isEmpty():
                return
            time.sleep(1)
        raise LeadscoreError(f"the scores query did not score silver's leads within {self.CAUGHT_UP_TIMEOUT} s")


def run(
    spark: SparkSession,
    config: Config,
    compute: ThisProcess | AsTheBundleRuns,
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
    split = simulator.split_export(export, historical, holdout, historical_share=0.7, seed=seed)
    log.info("demo: %d historical leads, %d to stream", split["historical"], split["holdout"])

    counts = ingest_query.ingest(spark, config, str(historical.parent))
    _show("ingested history", [counts], list(counts))
    model = compute.train()
    _show(
        f"model {model['model']}, registered in {config.mlflow.registry_uri}",
        [{"version": model["model_version"], **model["promotion"], "chosen": model["chosen"], **model["test"]}],
        ["version", "decision", "reason", "chosen", "auc_roc", "pr_auc", "accuracy"],
    )

    landing = Path(config.landing)
    if landing.exists():
        shutil.rmtree(landing)
    landing.mkdir(parents=True)
    with compute.streaming(landing):  # the streams run while the files land
        replayed = simulator.replay(
            holdout, landing, files, interval_seconds, follow_up_share=0.2, seed=seed, seen=historical
        )

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
