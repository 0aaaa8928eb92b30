"""The product in one run: history ingested, a model trained, the rest of the leads streamed in and scored live.

generate (or take an export) -> keep 70% as history -> ingest -> train (an MLflow run; the first registered version
becomes champion) -> replay the other 30% as files, with follow-up activity, while the live query scores them with
the champion into the agents' view and the scores query MERGEs them into lead_scores -> how many seconds each file
took from landing to the agents' view and to lead_scores, the agents' queue, the table's history, one time-travel
query.

On a classic session every step runs in this process. Over Spark Connect (`SPARK_REMOTE`), each step runs on the
compute its bundle job is declared on, as a deployed bundle runs them: the history's ingestion here, over Connect
(`leadscore ingest`, which needs no model); training and the two streaming queries in classic processes of their own
(the job cluster of the train, ingest and score_stream jobs: `leadscore.spark.SPARK_ML_NEEDS_CLASSIC` says why).
Both give the same tables.
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

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from leadscore import realtime
from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.ingest import query as ingest_query
from leadscore.ingest.silver import ORDER, latest_per_lead
from leadscore.lifecycle.new_version import train_new_version
from leadscore.output import render, rows_of
from leadscore.schema import KEY
from leadscore.scoring.live import visibility
from leadscore.streaming.queries import progress_logged
from leadscore.synthetic import simulator
from leadscore.synthetic.generator import generate
from leadscore.timetravel import agent_queue, read_as_of, read_live, score_changes, version_history

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
    """Over Spark Connect: the history's ingestion in this process (Connect), training and the streaming queries each
    in a classic process of its own (`leadscore train`, `leadscore stream --source`), given this run's
    configuration."""

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
        """Both queries run in their classic process while the block lands files; then it stops, once every file
        is in silver and every lead of silver is in lead_scores at its newest event."""
        argv, env = self._classic("stream")
        streaming = subprocess.Popen([*argv, "--source", str(landing)], env=env, stdout=subprocess.DEVNULL)
        try:
            yield
            self._wait_until_scored(streaming, landing)
            streaming.send_signal(signal.SIGINT)  # the stream's own stop: its queries end between micro-batches
            if streaming.wait(timeout=120) != 0:
                raise LeadscoreError(f"the streaming queries' process failed (exit status {streaming.returncode})")
        finally:
            if streaming.poll() is None:
                streaming.kill()
                streaming.wait()

    def _wait_until_scored(self, streaming: subprocess.Popen, landing: Path) -> None:
        files = {str(path.resolve()) for path in landing.glob("*.csv")}
        tables = {logical: self.config.table(logical) for logical in ("bronze_leads", "silver_leads", "lead_scores")}
        deadline = time.monotonic() + self.CAUGHT_UP_TIMEOUT
        while time.monotonic() < deadline:
            if streaming.poll() is not None:
                raise LeadscoreError(f"the streaming queries' process stopped (exit status {streaming.returncode})")
            if tables["lead_scores"].exists(self.spark):  # by the queries, when they start
                bronze = tables["bronze_leads"].read(self.spark)
                paths = bronze.select(F.regexp_replace("_source_file", "^file:/+", "/")).distinct().collect()
                ingested = files <= {row[0] for row in paths}
                newest = latest_per_lead(tables["silver_leads"].read(self.spark)).select(KEY, *ORDER)
                scored = tables["lead_scores"].read(self.spark).select(KEY, *ORDER)
                if ingested and newest.exceptAll(scored).isEmpty():
                    return
            time.sleep(1)
        raise LeadscoreError(f"the streaming queries did not score silver's leads within {self.CAUGHT_UP_TIMEOUT} s")


def _seconds_from_landing(visible: DataFrame) -> DataFrame:
    """Per streamed file: its events, when it landed, and the seconds until the last of its events was in the
    agents' view and in lead_scores (a late event, never MERGEd, does not count for the latter)."""

    def after_landing(column: str) -> Column:
        return F.round(F.max(F.unix_millis(column) - F.unix_millis("event_ts")) / 1000, 1)

    return (
        visible.groupBy(F.regexp_extract("event_file", "[^/]+$", 0).alias("file"))
        .agg(
            F.count(F.lit(1)).alias("events"),
            F.min("event_ts").alias("landed_at"),
            after_landing("visible_at").alias("to_view_s"),
            after_landing("merged_at").alias("to_lead_scores_s"),
        )
        .orderBy("landed_at", "file")
    )


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

    seconds = _seconds_from_landing(visibility(spark, config))
    _show(
        "seconds from a file landing to its leads' scores in the agents' view (gold.score_events) and in "
        "gold.lead_scores (its MERGE, every stream.merge_every_seconds)",
        rows_of(seconds),
        seconds.columns,
    )
    table = config.table("lead_scores")
    now = read_live(spark, config)
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
        "seconds_to_view_max": max((row["to_view_s"] for row in rows_of(seconds)), default=None),
        "table_versions": len(versions),
        "model": model["model"],
        "model_version": model["model_version"],
        "promotion": model["promotion"]["decision"],
        "seconds": round(time.monotonic() - started, 1),
    }
