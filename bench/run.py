"""leadscore benchmarks (issues 6, 10, 11): ingest, training, transform, backlog drain, MERGE of updates,
steady-state latency beside the original design, driver memory, and per-batch cost as the tables grow. Writes
bench/results/latest.json and latest.md.

Beside our figures, the same run measures the ceiling of this stack on the same inputs (Spark's CSV reader -> a
plain Delta append; a plain Delta append of the scored leads; a bare file stream -> Delta append for latency) and
reports ours as a share of it: a ratio survives a noisy machine, absolute rows/s do not.

    .venv/bin/python bench/run.py                         # full scale (what `make bench` runs and docs report)
    BENCH_SCALE=small .venv/bin/python bench/run.py       # a quick pass (minutes)
    .venv/bin/python bench/run.py --scale tiny --phases ingest_small,latency --out /tmp/b

Every phase runs in its own process (a fresh Spark driver), so each phase's peak resident memory (the Python
driver and its JVM, the whole process tree) is its own. Progress goes to stderr; results are rewritten after every
phase, so a run cut short still leaves what it measured. Generated inputs are cached in .cache/bench/data.
Sizes: BENCH_SCALE (full|small|tiny) or --scale, and each one alone with BENCH_ROWS_SMALL, BENCH_ROWS_1M,
BENCH_ROWS_10M, BENCH_LATENCY_SECONDS, BENCH_FLAT_SMALL_ROWS, BENCH_TRIGGER_SECONDS.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CACHE = ROOT / ".cache" / "bench"
SAMPLE = ROOT.parent / "shared" / "data" / "leads.csv"
LEADSCORE = Path(sys.executable).with_name("leadscore")
SEED = 11
ROWS_PER_FILE = 100_000
# Ingest phases run with a 2 GB heap (`spark.driver_memory`; conf/common.yml's local default is 4g). A JVM grows
# to the heap it is allowed, so with 4g its resident memory measures that setting, not the data; the question is
# whether ingest streams 10M rows within 3 GB.
INGEST_HEAP = "2g"

SCALES = {
    # rows_small: ingest at 100k; rows_1m: ingest, transform, drain, update, training, flat_cost's large table;
    # rows_10m: memory at 10M; flat_small_rows: flat_cost's small table
    "full": {"rows_small": 100_000, "rows_1m": 1_000_000, "rows_10m": 10_000_000, "latency_seconds": 120,
             "flat_small_rows": 10_000},
    "small": {"rows_small": 20_000, "rows_1m": 100_000, "rows_10m": 300_000, "latency_seconds": 120,
              "flat_small_rows": 10_000},
    "tiny": {"rows_small": 1_000, "rows_1m": 2_000, "rows_10m": 4_000, "latency_seconds": 10, "flat_small_rows": 200},
}  # fmt: skip
PHASES = ("ingest_small", "ingest_1m", "model", "transform", "drain", "latency", "flat_cost", "train_1m", "ingest_10m")
TARGETS = {  # issues 6, 10 and 11, on this 2-core machine
    "ingest_rows_per_s": (">=", 100_000),
    "ingest_share_of_ceiling": (">=", 0.5),
    "transform_rows_per_s": (">=", 200_000),
    "drain_leads_per_s": (">=", 50_000),
    "drain_share_of_ceiling": (">=", 0.6),
    "latency_p50_s": ("<=", 2.0),
    "latency_p95_s": ("<=", 4.0),
    "latency_ratio_to_floor": ("<=", 2.0),
    "latency_ratio_to_seed": (">=", 15),
    "ingest_batch_s": ("<=", 0.7),
    "scores_batch_s": ("<=", 1.0),
    "planning_s_per_batch": ("<=", 0.2),
    "ingest_commit_s": ("<=", 0.2),
    "scores_commit_s": ("<=", 0.2),
    "ingest_batch_ratio_large_to_small": ("<=", 1.2),
    "scores_batch_ratio_large_to_small": ("<=", 1.2),
    "peak_rss_mb_10m": ("<=", 3072),
}
KEYS = (
    "ingest_rows_per_s", "ingest_ceiling_rows_per_s", "ingest_share_of_ceiling", "ingest_rows_per_s_100k",
    "ingest_ceiling_rows_per_s_100k", "ingest_share_of_ceiling_100k", "ingest_rows_per_s_1m", "ingest_rows_per_s_10m",
    "train_seconds_real", "train_seconds_1m", "transform_rows_per_s", "drain_leads_per_s", "drain_ceiling_leads_per_s",
    "drain_share_of_ceiling", "update_merge_leads_per_s", "latency_p50_s", "latency_p95_s", "latency_max_s",
    "seed_latency_p50_s", "seed_latency_max_s", "floor_latency_p50_s", "latency_ratio_to_floor",
    "latency_ratio_to_seed", "ingest_batch_s", "scores_batch_s", "planning_s_per_batch", "ingest_commit_s",
    "scores_commit_s", "ingest_batch_s_small_table", "ingest_batch_s_large_table", "ingest_batch_ratio_large_to_small",
    "scores_batch_s_small_table", "scores_batch_s_large_table", "scores_batch_ratio_large_to_small",
    "peak_rss_mb_1m", "peak_rss_mb_10m",
)  # fmt: skip
WARMUP_SECONDS = 15  # latency: files landed in the first seconds (JIT, first batches) are not steady state
# The floor query's trigger: as fast as possible without busy-polling. "0 seconds" lists the landing folder every
# 10 ms when nothing is new, taking CPU from the queries it runs beside on this 2-core machine.
FLOOR_TRIGGER_SECONDS = 0.1
SEED_TRIGGER_SECONDS = 30  # the original design's processing-time trigger
# Progress steps reported per micro-batch (StreamingQueryProgress.durationMs), besides triggerExecution
DURATION_STEPS = ("queryPlanning", "getBatch", "latestOffset", "addBatch", "walCommit", "commitOffsets")
FLAT_COST_FILES = 5  # flat_cost: files landed one at a time per table size; the first is a warm-up, not counted


def say(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def settings(scale: str) -> dict:
    chosen = dict(SCALES[scale])
    for key in chosen:
        env = os.environ.get(f"BENCH_{key.upper()}")
        if env:
            chosen[key] = int(float(env))
    chosen["trigger_seconds"] = float(os.environ.get("BENCH_TRIGGER_SECONDS", "0.5"))
    return chosen


def generated(rows: int) -> Path:
    """`rows` generated leads in files of at most 100k rows (at least 2 files, one per core), cached."""
    folder = CACHE / "data" / f"rows-{rows}-seed-{SEED}"
    if not (folder / ".done").is_file():
        from leadscore.generator import generate

        shutil.rmtree(folder, ignore_errors=True)
        say(f"generating {rows:,} rows into {folder}")
        generate(rows, SEED, max(2, -(-rows // ROWS_PER_FILE)), folder)
        (folder / ".done").touch()
    return folder


# ---------------------------------------------------------------------------------------------- child phases
# Each runs in its own process: `bench/run.py --child PHASE --args JSON`; its last stdout line is its JSON.


def _session(lakehouse: Path, tracking_uri: str | None = None, **overrides):
    from leadscore.config import load_config
    from leadscore.spark import get_spark

    config = load_config(
        "local",
        overrides={
            "lakehouse": str(lakehouse),
            "mlflow.tracking_uri": tracking_uri,
            "spark.ui": False,
            **overrides,
        },
    )
    return get_spark(config.spark, "leadscore-bench"), config


def _export_schema():
    """The export's columns, all strings, plus the empty column its trailing comma makes: what Spark's CSV reader
    needs to read an export without inferring anything."""
    from pyspark.sql import types as T

    from leadscore.schema import RAW_NAMES

    return T.StructType([T.StructField(n, T.StringType()) for n in (*RAW_NAMES, "_trailing")])


def child_ingest(args: dict) -> dict:
    from leadscore.ingest import ingest

    spark, config = _session(Path(args["lakehouse"]), **{"spark.driver_memory": INGEST_HEAP})
    started = time.perf_counter()
    counts = ingest(spark, config, args["source"])
    seconds = time.perf_counter() - started
    return {"rows": counts["bronze"], "silver": counts["silver"], "seconds": round(seconds, 2),
            "rows_per_s": round(counts["bronze"] / seconds), "driver_memory": INGEST_HEAP}  # fmt: skip


def child_ingest_ceiling(args: dict) -> dict:
    """The ceiling of ingest on this stack: the same files through Spark's own CSV reader into a plain Delta append
    (no parse checks, no silver), with the same heap as our ingest."""
    spark, _ = _session(Path(args["lakehouse"]), **{"spark.driver_memory": INGEST_HEAP})
    target = str(Path(args["lakehouse"]) / "plain_copy")
    started = time.perf_counter()
    spark.read.csv(args["source"], schema=_export_schema(), header=True).write.format("delta").mode("append").save(
        target
    )
    seconds = time.perf_counter() - started
    rows = int(spark.sql(f"DESCRIBE HISTORY delta.`{target}` LIMIT 1").first()["operationMetrics"]["numOutputRows"])
    return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
            "driver_memory": INGEST_HEAP}  # fmt: skip


def child_transform(args: dict) -> dict:
    from leadscore.lifecycle.serving import AliasedModel
    from leadscore.scoring import with_score

    spark, config = _session(Path(args["lakehouse"]), args["tracking_uri"])
    champion = AliasedModel(config)
    champion.refresh()
    model = champion.model
    silver = config.table("silver_leads").read(spark).cache()
    rows = silver.count()  # in memory first: the figure is the transform's, not the Delta scan's
    with_score(model, silver.limit(10_000)).write.format("noop").mode("overwrite").save()  # JIT and codegen warm
    started = time.perf_counter()
    with_score(model, silver).write.format("noop").mode("overwrite").save()
    seconds = time.perf_counter() - started
    stages = [type(stage).__name__ for stage in model.stages]
    trees = [getattr(s, "getNumTrees", None) for s in model.stages if hasattr(s, "getNumTrees")]
    return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
            "us_per_row_per_core": round(seconds * os.cpu_count() / rows * 1e6, 2),
            "model_stages": stages[-3:], "trees": trees}  # fmt: skip


def _follow_ups(landing: Path, count: int, out: Path) -> int:
    """Newer activity for the first `count` leads of the landing files, as one file landed now."""
    import numpy as np

    from leadscore.calibration import read_export
    from leadscore.generator import write_csv
    from leadscore.simulate import follow_up

    rng = np.random.default_rng(SEED)
    rows: list[list[str]] = []
    for path in sorted(landing.glob("*.csv")):
        rows += [follow_up(row, rng) for row in read_export(path)[: count - len(rows)]]
        if len(rows) == count:
            break
    write_csv(out, [rows])
    return len(rows)


def child_drain(args: dict) -> dict:
    from leadscore import realtime
    from leadscore.ingest import ingest

    lakehouse, source = Path(args["lakehouse"]), args["source"]
    spark, config = _session(lakehouse, args["tracking_uri"], **{"stream.max_files_per_trigger": 100_000})
    scores = config.table("lead_scores")

    started = time.perf_counter()  # silver holds every lead; bronze and silver have nothing new
    realtime.run(spark, config, source, available_now=True)
    drain_seconds = time.perf_counter() - started
    leads = scores.read(spark).count()
    say(f"drain: {leads:,} leads in {drain_seconds:.1f}s")

    plain_copy = Path(args["ceiling"])  # the ceiling: the scored leads, read and appended to a new Delta table
    started = time.perf_counter()
    scores.read(spark).write.format("delta").mode("append").save(str(plain_copy))
    ceiling_seconds = time.perf_counter() - started
    shutil.rmtree(plain_copy)
    say(f"drain ceiling: {leads:,} leads appended in {ceiling_seconds:.1f}s")

    updates = Path(args["updates"])
    updates.mkdir(parents=True, exist_ok=True)
    updated = _follow_ups(Path(source), max(1, leads // 10), updates / "updates-00001.csv")
    started = time.perf_counter()
    ingest(spark, config, str(updates))
    update_ingest_seconds = time.perf_counter() - started
    started = time.perf_counter()
    realtime.run(spark, config, str(updates), available_now=True)
    update_seconds = time.perf_counter() - started
    history = scores.history(spark, 1).first()["operationMetrics"]
    say(f"update: {updated:,} follow-ups merged in {update_seconds:.1f}s")
    return {
        "leads": leads,
        "drain_seconds": round(drain_seconds, 2),
        "drain_leads_per_s": round(leads / drain_seconds),
        "drain_ceiling_seconds": round(ceiling_seconds, 2),
        "drain_ceiling_leads_per_s": round(leads / ceiling_seconds),
        "updated": updated,
        "update_ingest_seconds": round(update_ingest_seconds, 2),
        "update_merge_seconds": round(update_seconds, 2),
        "update_merge_leads_per_s": round(updated / update_seconds),
        "update_merge_metrics": {k: history.get(k) for k in (
            "numTargetRowsUpdated", "numTargetRowsInserted", "numTargetFilesAdded", "numTargetFilesRemoved",
            "numTargetDeletionVectorsAdded", "executionTimeMs", "scanTimeMs", "rewriteTimeMs")},
    }  # fmt: skip


def _latencies(spark, path: str, since_ms: int | None) -> dict:
    """Per row: its commit to the table (change data feed) minus when its file landed (event_ts)."""
    import numpy as np
    from pyspark.sql import functions as F

    changes = (
        spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", 0).load(path)
        .where(F.col("_change_type").isin("insert", "update_postimage"))
        .select((F.unix_millis("_commit_timestamp") - F.unix_millis("event_ts")).alias("ms"),
                F.unix_millis("event_ts").alias("landed"))
    )  # fmt: skip
    if since_ms is not None:
        changes = changes.where(F.col("landed") >= since_ms)
    ms = np.array([row.ms for row in changes.collect()], dtype=float)
    if not len(ms):
        return {"rows": 0}
    p50, p95 = np.percentile(ms, [50, 95]) / 1000
    return {"rows": len(ms), "p50_s": round(p50, 2), "p95_s": round(p95, 2), "max_s": round(ms.max() / 1000, 2),
            "min_s": round(ms.min() / 1000, 2)}  # fmt: skip


def _seed_design(spark, config, landing: str, sink: str, checkpoint: str):
    """The original design: a CSV file stream, maxFilesPerTrigger=1, a 30-second processing-time trigger, each file
    typed and scored (no de-duplication, no MERGE) and appended to a Delta sink (change data feed on, to time it)."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    from leadscore import silver
    from leadscore.lifecycle.serving import AliasedModel
    from leadscore.schema import RAW_NAMES
    from leadscore.scoring import score

    champion = AliasedModel(config)
    champion.refresh()
    raw = (
        spark.readStream.format("csv").schema(_export_schema()).option("header", "true").option("maxFilesPerTrigger", 1)
        .load(landing)
        .select(*RAW_NAMES, F.col("_metadata.file_path").alias("_source_file"),
                F.col("_metadata.file_modification_time").alias("_file_modification_time"),
                F.lit(0).alias("_line_number"))
    )  # fmt: skip
    scored = score(champion.model, silver.with_typed_columns(raw), champion.threshold, config.model.priority)
    out = scored.select(
        "prospect_id", "score", "prediction", "priority", "event_ts", F.current_timestamp().alias("scored_at")
    )
    DeltaTable.createIfNotExists(spark).location(sink).addColumns(out.schema).property(
        "delta.enableChangeDataFeed", "true"
    ).execute()
    return (
        out.writeStream.queryName("seed_design").format("delta").option("checkpointLocation", checkpoint)
        .trigger(processingTime=f"{SEED_TRIGGER_SECONDS} seconds").start(sink)
    )  # fmt: skip


def _bare_file_stream(spark, landing: str, sink: str, checkpoint: str):
    """The floor of this stack for latency: the landing files' lines, unparsed and unchecked, appended to Delta on a
    near-zero trigger (change data feed on, to time it as ours). `event_ts` is the file's modification time, as in
    silver, so `_latencies` reads it the same way."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    lines = (
        spark.readStream.format("text").option("pathGlobFilter", "*.csv").load(landing)
        .select("value", F.col("_metadata.file_modification_time").alias("event_ts"))
    )  # fmt: skip
    DeltaTable.createIfNotExists(spark).location(sink).addColumns(lines.schema).property(
        "delta.enableChangeDataFeed", "true"
    ).execute()
    return (
        lines.writeStream.queryName("floor").format("delta").option("checkpointLocation", checkpoint)
        .trigger(processingTime=f"{FLOOR_TRIGGER_SECONDS} seconds").start(sink)
    )  # fmt: skip


def _epoch_ms(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp).timestamp() * 1000)


def _warm_batches(query, since_ms: int) -> list:
    """The query's micro-batches that started after `since_ms` and had input (a trigger without data is no batch)."""
    return [p for p in query.recentProgress if p["numInputRows"] and _epoch_ms(p["timestamp"]) >= since_ms]


def _batch_figures(batches: list) -> dict:
    """Median and p95 of the batches' trigger time, and the median of each step Spark times per micro-batch."""
    import numpy as np

    if not batches:
        return {"batches": 0}
    seconds = np.array([p["durationMs"]["triggerExecution"] for p in batches]) / 1000
    steps = {s: [p["durationMs"][s] / 1000 for p in batches if s in p["durationMs"]] for s in DURATION_STEPS}
    return {
        "batches": len(batches),
        "input_rows_median": float(np.median([p["numInputRows"] for p in batches])),
        "batch_s": round(float(np.median(seconds)), 3),
        "batch_p95_s": round(float(np.percentile(seconds, 95)), 3),
        "step_median_s": {step: round(float(np.median(v)), 3) for step, v in steps.items() if v},
    }


def _rule_seconds(spark) -> float:
    """Seconds spent in Catalyst's analyzer and optimizer rules, by every query of this JVM, since the rule timer's
    last reset (`RuleExecutor.resetMetrics`)."""
    import re

    dump = spark._jvm.org.apache.spark.sql.catalyst.rules.RuleExecutor.dumpTimeSpent()
    return float(re.search(r"Total time: ([0-9.]+) seconds", dump).group(1))


def _commits(table_path: str, since_ms: int) -> list[dict]:
    """The table's commits since `since_ms`, each with the seconds from the start of its commit (commitInfo's
    timestamp, taken once the data files are written) to its checksum file (written after the new snapshot, so
    what the next write waits for), and a MERGE's own executionTimeMs.

    Read from the Delta log, not DESCRIBE HISTORY: history's timestamp is the commit file's, and an append's
    operationMetrics hold no time.
    """
    out = []
    for commit_file in sorted((Path(table_path) / "_delta_log").glob("*.json")):
        with commit_file.open() as lines:
            info = next(json.loads(line)["commitInfo"] for line in lines if line.startswith('{"commitInfo"'))
        if info["timestamp"] < since_ms:
            continue
        checksum = commit_file.with_suffix(".crc")
        done = checksum if checksum.is_file() else commit_file
        merge_ms = info.get("operationMetrics", {}).get("executionTimeMs")
        out.append({"operation": info["operation"], "commit_s": done.stat().st_mtime - info["timestamp"] / 1000,
                    "merge_s": int(merge_ms) / 1000 if merge_ms else None})  # fmt: skip
    return out


def _commit_figures(commits: list[dict]) -> dict:
    import numpy as np

    if not commits:
        return {"commits": 0}
    seconds = [c["commit_s"] for c in commits]
    figures = {"commits": len(commits), "operations": sorted({c["operation"] for c in commits}),
               "commit_s": round(float(np.median(seconds)), 3),
               "commit_p95_s": round(float(np.percentile(seconds, 95)), 3)}  # fmt: skip
    merges = [c["merge_s"] for c in commits if c["merge_s"] is not None]
    if merges:
        figures["merge_execution_s"] = round(float(np.median(merges)), 3)
    return figures


def child_latency(args: dict) -> dict:
    """Files land at one a second into our two queries; then, on the same traffic, into the original design; then
    into the bare file stream. One after another, each alone on the machine: run at once, the three shared its 2
    cores and each measured the others' load as much as its own.

    Steady state starts after the warm-up: latencies count the rows landed after it; per-batch figures, Delta
    commits and Catalyst's rule time count what our queries ran after it (the rule timer is JVM-wide, so it is read
    before the original design starts).
    """
    from leadscore import realtime
    from leadscore.simulate import GENERATED, replay

    lakehouse = Path(args["lakehouse"])
    spark, config = _session(lakehouse, args["tracking_uri"], **{"stream.trigger_seconds": args["trigger_seconds"]})
    spark.conf.set("spark.sql.streaming.numRecentProgressUpdates", "100000")  # every batch of the run, not the last 100
    files = int(args["seconds"])
    warmup = WARMUP_SECONDS if files >= 4 * WARMUP_SECONDS else 0  # a tiny run keeps every file

    def landing(leg: str) -> str:
        folder = lakehouse / f"landing_{leg}"
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)

    def land(leg: str, on_warm=None) -> tuple[dict, int]:
        """The leg's traffic into its own landing folder; (what landed, when steady state began in epoch ms)."""
        say(f"latency ({leg}): one file of 50 leads per second for {files}s")
        steady_ms = int(time.time() * 1000) + warmup * 1000
        timer = threading.Timer(warmup, on_warm) if on_warm else None
        if timer:
            timer.start()
        landed = replay(GENERATED, landing(leg), files, 1.0, rows=40 * files, follow_up_share=0.2, seed=SEED)
        if timer:
            timer.join()
        return landed, steady_ms

    queries = realtime.start(spark, config, landing("ours"))
    time.sleep(5)  # the queries' first (empty) batches
    rule_timer = spark._jvm.org.apache.spark.sql.catalyst.rules.RuleExecutor
    started = time.time()
    landed, steady_ms = land("ours", rule_timer.resetMetrics)
    replay_seconds = time.time() - started
    realtime.drain(queries)
    rule_seconds = _rule_seconds(spark)
    warm = {query.name: _warm_batches(query, steady_ms) for query in queries}
    for query in queries:
        query.stop()
    steady = _latencies(spark, config.table("lead_scores").location, steady_ms)
    everything = _latencies(spark, config.table("lead_scores").location, None)
    batches = {name: _batch_figures(warm[name]) for name in ("ingest", "scores")}
    commits = {
        "ingest": _commit_figures([c for logical in ("bronze_leads", "silver_leads")
                                   for c in _commits(config.table(logical).location, steady_ms)]),
        "scores": _commit_figures(_commits(config.table("lead_scores").location, steady_ms)),
    }  # fmt: skip

    seed_sink = str(lakehouse / "seed_design_scores")
    seed = _seed_design(spark, config, landing("seed"), seed_sink, str(lakehouse / "_checkpoints" / "seed_design"))
    land("seed")
    time.sleep(SEED_TRIGGER_SECONDS)  # its trigger's last batch over what landed
    seed.stop()
    seed_batches = sum(1 for p in seed.recentProgress if p["numInputRows"])

    floor_sink = str(lakehouse / "floor_lines")
    floor = _bare_file_stream(spark, landing("floor"), floor_sink, str(lakehouse / "_checkpoints" / "floor"))
    _, floor_steady_ms = land("floor")
    floor.processAllAvailable()
    floor_batches = len(_warm_batches(floor, floor_steady_ms))
    floor.stop()

    ours = len(warm["ingest"]) + len(warm["scores"])
    return {
        "landed": landed,
        "replay_seconds": round(replay_seconds, 1),
        "trigger_seconds": args["trigger_seconds"],
        "warmup_seconds": warmup,
        "legs": "ours, then the original design, then the floor: each alone, on the same traffic",
        "steady": steady,
        "all_files": everything,
        "seed_design": {**_latencies(spark, seed_sink, None), "landed_files": landed["files"],
                        "batches_with_rows": seed_batches},
        "floor": {**_latencies(spark, floor_sink, floor_steady_ms), "trigger_seconds": FLOOR_TRIGGER_SECONDS,
                  "batches": floor_batches},
        "ingest_batch_s": batches["ingest"].get("batch_s"),
        "scores_batch_s": batches["scores"].get("batch_s"),
        "planning_s_per_batch": round(rule_seconds / ours, 3) if ours else None,
        "ingest_commit_s": commits["ingest"].get("commit_s"),
        "scores_commit_s": commits["scores"].get("commit_s"),
        "batches": batches,
        "planning": {"rule_seconds": round(rule_seconds, 2),
                     "warm_batches": {name: len(progress) for name, progress in warm.items()}},
        "commits": commits,
    }  # fmt: skip


def child_flat_cost(args: dict) -> dict:
    """One table size: files of 50 leads (40 new, 10 follow-ups of stored leads) land one at a time into the running
    ingest and scores queries, each file drained through both before the next lands (one micro-batch each); the
    median batch time after the first file, which should not grow with silver and lead_scores."""
    import numpy as np

    from leadscore import ingest, realtime
    from leadscore.simulate import GENERATED, replay

    lakehouse = Path(args["lakehouse"])
    spark, config = _session(lakehouse, args["tracking_uri"])
    spark.conf.set("spark.sql.streaming.numRecentProgressUpdates", "100000")
    if args["source"]:
        ingest.ingest(spark, config, args["source"])
    realtime.run(spark, config, None, available_now=True)  # lead_scores holds every lead of silver
    silver_rows = config.table("silver_leads").read(spark).count()
    leads = config.table("lead_scores").read(spark).count()
    landing = lakehouse / "flat_cost_landing"
    landing.mkdir()
    say(f"flat_cost: {FLAT_COST_FILES} files of 50 leads, one at a time, into {silver_rows:,} silver rows and "
        f"{leads:,} scored leads")  # fmt: skip
    queries = realtime.start(spark, config, str(landing))
    follow_up_of = sorted(Path(args["export"]).glob("*.csv"))[0]  # the follow-ups' leads: stored, scored
    replay(GENERATED, landing, FLAT_COST_FILES, rows=40 * FLAT_COST_FILES, follow_up_share=0.2, seed=SEED,
           seen=follow_up_of, on_file=lambda _: realtime.drain(queries))  # fmt: skip
    seconds = {query.name: [p["durationMs"]["triggerExecution"] / 1000 for p in query.recentProgress
                            if p["numInputRows"]] for query in queries}  # fmt: skip
    for query in queries:
        query.stop()
    return {
        "silver_rows": silver_rows,
        "leads": leads,
        "batch_seconds": {name: [round(v, 3) for v in values] for name, values in seconds.items()},
        **{f"{name}_batch_s": round(float(np.median(values[1:])), 3) if values[1:] else None
           for name, values in seconds.items()},
    }  # fmt: skip


CHILDREN = {"ingest": child_ingest, "ingest_ceiling": child_ingest_ceiling, "transform": child_transform,
            "drain": child_drain, "latency": child_latency, "flat_cost": child_flat_cost}  # fmt: skip


# ---------------------------------------------------------------------------------------------- the parent


def run_child(argv: list[str], label: str) -> tuple[dict | None, float, float, int]:
    """Runs a process, sampling the resident memory of its whole tree; (last-line JSON, wall s, peak MB, rc)."""
    say(f"{label}: {shlex.join(argv)}")
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    peak = 0
    cpu: dict[int, float] = {}  # CPU seconds per process of the tree, as last seen
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            root = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not done.is_set():
            total = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
                        times = p.cpu_times()
                        cpu[p.pid] = times.user + times.system
            except psutil.Error:
                break
            peak = max(peak, total)
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    lines = [line for line in out.strip().splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if proc.returncode == 0 and lines else None
    if isinstance(result, dict):  # CPU time of the tree: under load, what the work cost beside what it waited
        result["cpu_seconds"] = round(sum(cpu.values()), 1)
    say(f"{label}: {'done' if result is not None else f'FAILED (exit {proc.returncode})'} in {wall:.1f}s, "
        f"{sum(cpu.values()):.0f} CPU s, peak RSS {peak / 2**20:.0f} MB")  # fmt: skip
    return result, wall, round(peak / 2**20), proc.returncode


def child_argv(phase: str, **args) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", phase, "--args", json.dumps(args)]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator (ours as a share of a ceiling, a latency as a multiple of another), or None when a
    phase failed to give either."""
    return round(numerator / denominator, 2) if numerator and denominator else None


def ingest_phase(phase: str, lake: Path, source: Path, work: Path, record) -> bool:
    """Our ingest of the files, then the stack's ceiling on the same files (each in its own driver); True when
    ours succeeded."""
    d, w, p, rc = run_child(child_argv("ingest", lakehouse=str(lake), source=str(source)), phase)
    plain = work / f"{phase}_ceiling"
    argv = child_argv("ingest_ceiling", lakehouse=str(plain), source=str(source))
    c, cw, cp, crc = run_child(argv, f"{phase} ceiling")
    shutil.rmtree(plain, ignore_errors=True)
    ours, ceiling = d and d["rows_per_s"], c and c["rows_per_s"]
    if phase == "ingest_small":
        record(phase, {"ingest_rows_per_s_100k": ours}, d, w, p, rc)
        record(f"{phase}_ceiling", {"ingest_ceiling_rows_per_s_100k": ceiling,
                                    "ingest_share_of_ceiling_100k": ratio(ours, ceiling)}, c, cw, cp, crc)  # fmt: skip
    else:
        record(phase, {"ingest_rows_per_s_1m": ours, "ingest_rows_per_s": ours, "peak_rss_mb_1m": p}, d, w, p, rc)
        record(f"{phase}_ceiling", {"ingest_ceiling_rows_per_s": ceiling,
                                    "ingest_share_of_ceiling": ratio(ours, ceiling)}, c, cw, cp, crc)  # fmt: skip
    return rc == 0


def latency_keys(details: dict) -> dict:
    """The latency child's headline figures, beside the original design and the floor of this stack."""
    ours, seed, floor = details.get("steady", {}), details.get("seed_design", {}), details.get("floor", {})
    return {
        "latency_p50_s": ours.get("p50_s"),
        "latency_p95_s": ours.get("p95_s"),
        "latency_max_s": ours.get("max_s"),
        "seed_latency_p50_s": seed.get("p50_s"),
        "seed_latency_max_s": seed.get("max_s"),
        "floor_latency_p50_s": floor.get("p50_s"),
        "latency_ratio_to_floor": ratio(ours.get("p50_s"), floor.get("p50_s")),
        "latency_ratio_to_seed": ratio(seed.get("p50_s"), ours.get("p50_s")),
        **{key: details.get(key) for key in (
            "ingest_batch_s", "scores_batch_s", "planning_s_per_batch", "ingest_commit_s", "scores_commit_s")},
    }  # fmt: skip


def flat_cost_phase(small_table: tuple[Path, Path], large_table: tuple[Path, Path], models: str, record) -> None:
    """The same one-file batches against a small and a large lakehouse, (lakehouse, the export it holds) each; the
    small one is ingested first, the large one is lake_1m as the earlier phases left it."""
    runs = {}
    for size, (lake, export) in (("small", small_table), ("large", large_table)):
        source = str(export) if size == "small" else None
        argv = child_argv("flat_cost", lakehouse=str(lake), tracking_uri=models, source=source, export=str(export))
        runs[size] = run_child(argv, f"flat_cost {size} table")
    (small, *_), (large, *_) = runs["small"], runs["large"]
    keys = {}
    for query in ("ingest", "scores"):
        small_s, large_s = small and small[f"{query}_batch_s"], large and large[f"{query}_batch_s"]
        keys |= {f"{query}_batch_s_small_table": small_s, f"{query}_batch_s_large_table": large_s,
                 f"{query}_batch_ratio_large_to_small": ratio(large_s, small_s)}  # fmt: skip
    details = {"small_table": small, "large_table": large} if small and large else None
    wall = sum(run[1] for run in runs.values())
    peak = max(run[2] for run in runs.values())
    failed = next((rc for *_, rc in runs.values() if rc), 0)
    record("flat_cost", keys, details, wall, peak, failed)


def memory_phase(rows: int, work: Path, record) -> None:
    lake = work / "lake_10m"
    d, w, p, rc = run_child(child_argv("ingest", lakehouse=str(lake), source=str(generated(rows))), "ingest_10m")
    record("ingest_10m", {"ingest_rows_per_s_10m": d and d["rows_per_s"], "peak_rss_mb_10m": p}, d, w, p, rc)
    shutil.rmtree(lake, ignore_errors=True)


def machine() -> dict:
    def git(*a: str) -> str | None:
        done = subprocess.run(["git", *a], capture_output=True, text=True, cwd=ROOT, check=False)
        return done.stdout.strip() or None

    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "spark_version": version("pyspark"),
        "delta_version": version("delta-spark"),
        "python": sys.version.split()[0],
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value < 100:
        return f"{value:.2f}"
    return f"{value:,.0f}" if isinstance(value, int | float) else str(value)


def markdown(result: dict) -> str:
    rows = ["| figure | value | target | met | load avg (1 min) at the end of its phase |", "|---|---:|---|---|---|"]
    for key in KEYS:
        value = result.get(key)
        target = TARGETS.get(key)
        met = "" if target is None or value is None else (
            "yes" if (value >= target[1] if target[0] == ">=" else value <= target[1]) else "**no**")  # fmt: skip
        load = result["load"].get(key)
        rows.append(f"| `{key}` | {fmt(value)} | {f'{target[0]} {target[1]:,}' if target else ''} | {met} | "
                    f"{'' if load is None else load} |")  # fmt: skip
    m = result["machine"]
    head = (
        f"Scale `{result['scale']}` ({json.dumps(result['sizes'])}), {m['cores']} cores, {m['memory_gb']} GB, "
        f"Spark {m['spark_version']}, Delta {m['delta_version']}, commit {(m['git_commit'] or '')[:10]}"
        f"{' (dirty tree)' if m['git_dirty'] else ''}, {m['date']}.\n\nCommand: `{result['command']}`\n"
    )
    return head + "\n" + "\n".join(rows) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=SCALES, default=os.environ.get("BENCH_SCALE", "full"))
    parser.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default: bench/results)")
    parser.add_argument("--work", type=Path, help="lakehouses (default: .cache/bench/run, emptied first)")
    parser.add_argument("--no-real", action="store_true", help="skip the real sample (train_seconds_real: null)")
    parser.add_argument(
        "--memory-beside",
        action="store_true",
        help="run the 10M-row memory phase at the same time as the others (saves its wall time; slows the others)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import logging

        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
        logging.getLogger("leadscore").setLevel(logging.INFO if os.environ.get("BENCH_VERBOSE") else logging.WARNING)
        print(json.dumps(CHILDREN[args.child](json.loads(args.args))), flush=True)
        return 0

    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    sizes = settings(args.scale)
    work = args.work or CACHE / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    args.out.mkdir(parents=True, exist_ok=True)
    command = shlex.join([f"BENCH_SCALE={args.scale}", "make", "bench"]) if args.scale != "full" else "make bench"
    if sys.argv[1:]:
        env = [f"BENCH_SCALE={args.scale}"] if args.scale != "full" else []
        command = shlex.join([*env, ".venv/bin/python", "bench/run.py", *sys.argv[1:]])
    result: dict = {**{key: None for key in KEYS}, "scale": args.scale, "sizes": sizes, "command": command,
                    "machine": machine(), "phases": {}, "load": {}, "skipped": {}}  # fmt: skip

    lock = threading.Lock()

    def record(phase: str, keys: dict, details: dict | None, wall: float, peak: int, rc: int) -> None:
        with lock:
            _record(phase, keys, details, wall, peak, rc)

    def _record(phase: str, keys: dict, details: dict | None, wall: float, peak: int, rc: int) -> None:
        result.update({k: v for k, v in keys.items() if details is not None})
        load = round(os.getloadavg()[0], 2)
        result["load"].update({k: load for k in keys})
        result["phases"][phase] = {
            "details": details,
            "wall_seconds": round(wall, 1),
            "peak_rss_mb": peak,
            "exit": rc,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        }
        write(result, args.out)

    small, large = sizes["rows_small"], sizes["rows_1m"]
    lake_1m, models, ingested_1m = work / "lake_1m", None, False
    beside = None
    if args.memory_beside and "ingest_10m" in phases:
        phases.remove("ingest_10m")
        beside = threading.Thread(target=memory_phase, args=(sizes["rows_10m"], work, record), daemon=True)
        beside.start()
    for phase in phases:
        if phase == "ingest_small":
            ingest_phase(phase, work / "lake_small", generated(small), work, record)
        elif phase == "ingest_1m":
            ingested_1m = ingest_phase(phase, lake_1m, generated(large), work, record)
        elif phase == "ingest_10m":
            memory_phase(sizes["rows_10m"], work, record)
        elif phase == "model":
            # The model the scoring phases use: trained on the real sample (its wall time is train_seconds_real),
            # else on the small generated set.
            if SAMPLE.is_file() and not args.no_real:
                lake = work / "lake_real"
                run_child([str(LEADSCORE), "ingest", "--source", str(SAMPLE), "--lakehouse", str(lake)], "ingest real")
                d, w, p, rc = run_child([str(LEADSCORE), "train", "--lakehouse", str(lake)], "train_real")
                record("train_real", {"train_seconds_real": round(w, 1)}, d, w, p, rc)
            else:
                why = "--no-real" if args.no_real else f"no real sample at {SAMPLE}"
                result["skipped"]["train_seconds_real"] = why
                lake = work / "lake_small"
                if not (lake / "silver" / "leads").exists():
                    run_child(child_argv("ingest", lakehouse=str(lake), source=str(generated(small))), "ingest")
                d, w, p, rc = run_child([str(LEADSCORE), "train", "--lakehouse", str(lake)], "train_model")
                record("train_model", {}, d, w, p, rc)
            models = f"sqlite:///{lake}/mlflow.db"  # the model's tracking store
        elif phase in ("transform", "drain", "latency", "flat_cost", "train_1m"):
            if phase != "latency" and not ingested_1m:
                say(f"{phase}: skipped, needs the ingest_1m phase")
                result["skipped"][phase] = "needs ingest_1m"
                continue
            if phase != "train_1m" and models is None:
                say(f"{phase}: skipped, needs the model phase")
                result["skipped"][phase] = "needs the model phase"
                continue
            if phase == "transform":
                d, w, p, rc = run_child(child_argv("transform", lakehouse=str(lake_1m), tracking_uri=models), phase)
                record(phase, {"transform_rows_per_s": d and d["rows_per_s"]}, d, w, p, rc)
            elif phase == "drain":
                argv = child_argv("drain", lakehouse=str(lake_1m), tracking_uri=models, source=str(generated(large)),
                                  updates=str(work / "updates"), ceiling=str(work / "drain_ceiling"))  # fmt: skip
                d, w, p, rc = run_child(argv, phase)
                ours, ceiling = d and d["drain_leads_per_s"], d and d["drain_ceiling_leads_per_s"]
                keys = {
                    "drain_leads_per_s": ours,
                    "drain_ceiling_leads_per_s": ceiling,
                    "drain_share_of_ceiling": ratio(ours, ceiling),
                    "update_merge_leads_per_s": d and d["update_merge_leads_per_s"],
                }
                record(phase, keys, d, w, p, rc)
            elif phase == "latency":
                argv = child_argv(
                    "latency",
                    lakehouse=str(work / "lake_latency"),
                    tracking_uri=models,
                    seconds=sizes["latency_seconds"],
                    trigger_seconds=sizes["trigger_seconds"],
                )
                d, w, p, rc = run_child(argv, phase)
                record(phase, latency_keys(d or {}), d, w, p, rc)
            elif phase == "flat_cost":
                small_table = (work / "lake_flat_small", generated(sizes["flat_small_rows"]))
                flat_cost_phase(small_table, (lake_1m, generated(large)), models, record)
            else:
                d, w, p, rc = run_child([str(LEADSCORE), "train", "--lakehouse", str(lake_1m)], phase)
                record(phase, {"train_seconds_1m": round(w, 1)}, d, w, p, rc)
    if beside is not None:
        say("waiting for the 10M-row memory phase running beside the others")
        beside.join()
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write(result, args.out)
    say(f"results in {args.out / 'latest.json'} and {args.out / 'latest.md'}")
    print(markdown(result))
    return 0 if all(ph["exit"] == 0 for ph in result["phases"].values()) else 1


def write(result: dict, out: Path) -> None:
    for name, text in (("latest.json", json.dumps(result, indent=2) + "\n"), ("latest.md", markdown(result))):
        temp = out / f"{name}.tmp"
        temp.write_text(text)
        temp.replace(out / name)


if __name__ == "__main__":
    sys.exit(main())
