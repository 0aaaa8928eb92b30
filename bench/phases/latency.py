"""Phase `latency`: steady-state latency of the real-time path, from a file landing to its leads' scores visible in
the agents' view (the score_events commit that holds them, or the lead_scores MERGE if that came first; both read
from the change data feeds), with one file of 50 leads landing a second into our two queries (the live query, which
scores into score_events, and the scores query, which MERGEs into lead_scores on its cadence: `merge_lag_p95_s` is
how far lead_scores follows the view; `live_batch_s` the live query's warm batch, with each step). On the same
traffic, one after another and each alone on the machine, it measures the original design (a CSV file stream, one
file per 30-second trigger, typed, scored and appended: `latency_ratio_to_seed`) and the floor of this stack (the
files' lines, unparsed, appended to Delta on a near-zero trigger: `latency_ratio_to_floor`). Beside the latencies:
per-batch time of each query, Catalyst's planning time per batch and the Delta commit time, after the warm-up; and
the peak resident memory of this driver and its JVM while our queries run (`latency_stream_peak_rss_mb`: what a
`leadscore stream` process holds; the child's own peak also covers the other legs and the latencies' reads). The
child's `legs` and `warmup_seconds` let the quick bench run ours and the floor alone, after a shorter warm-up.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path

from harness import SEED, TreeSampler, child_argv, export_schema, ratio, run_child, say, session

WARMUP_SECONDS = 15  # latency: files landed in the first seconds (JIT, first batches) are not steady state
# The floor query's trigger: as fast as possible without busy-polling. "0 seconds" lists the landing folder every
# 10 ms when nothing is new, taking CPU from the queries it runs beside on this 2-core machine.
FLOOR_TRIGGER_SECONDS = 0.1
SEED_TRIGGER_SECONDS = 30  # the original design's processing-time trigger
# Progress steps reported per micro-batch (StreamingQueryProgress.durationMs), besides triggerExecution
DURATION_STEPS = ("queryPlanning", "getBatch", "latestOffset", "addBatch", "walCommit", "commitOffsets")


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
    return _percentiles(np.array([row.ms for row in changes.collect()], dtype=float) / 1000)


def _percentiles(seconds) -> dict:
    """Count, median, p95, max and min of an array of seconds."""
    import numpy as np

    if not len(seconds):
        return {"rows": 0}
    p50, p95 = np.percentile(seconds, [50, 95])
    return {"rows": len(seconds), "p50_s": round(p50, 2), "p95_s": round(p95, 2),
            "max_s": round(float(np.max(seconds)), 2), "min_s": round(float(np.min(seconds)), 2)}  # fmt: skip


def _view_latencies(spark, config, since_ms: int | None) -> dict:
    """Per scored event landed since `since_ms` (all when None): its landing (event_ts) to its first commit in the
    agents' view (score_events' or, when the MERGE came first, lead_scores'); and, for the events MERGEd, how long
    lead_scores took after the view (`merge_lag`)."""
    import numpy as np
    from pyspark.sql import functions as F

    from leadscore.scoring.live import visibility

    events = visibility(spark, config)
    if since_ms is not None:
        events = events.where(F.unix_millis("event_ts") >= since_ms)
    rows = events.select(
        (F.unix_millis(F.least("visible_at", "merged_at")) - F.unix_millis("event_ts")).alias("ms"),
        (F.unix_millis("merged_at") - F.unix_millis("visible_at")).alias("lag_ms"),
    ).collect()
    lags = np.array([r.lag_ms for r in rows if r.lag_ms is not None], dtype=float) / 1000
    lag = _percentiles(lags)
    latencies = _percentiles(np.array([r.ms for r in rows], dtype=float) / 1000)
    return {**latencies, "merged": lag["rows"], "merge_lag_p50_s": lag.get("p50_s"),
            "merge_lag_p95_s": lag.get("p95_s")}  # fmt: skip


class _BatchSteps(logging.Handler):
    """The live query's own timers of each batch (materialise, each append, all appends, the batch), from the
    `batch_steps` its log line carries, kept with when the batch ended."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.batches: list[tuple[float, dict]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "batch_steps"):
            self.batches.append((record.created * 1000, record.batch_steps))

    def medians(self, since_ms: int) -> dict:
        import numpy as np

        warm = [steps for at, steps in self.batches if at >= since_ms]
        names = sorted({name for steps in warm for name in steps} - {"batch_id", "rows"})
        return {name: round(float(np.median([s[name] for s in warm if name in s])), 3) for name in names}


def _timed_append(spark, stream, name: str, sink: str, checkpoint: str, trigger_seconds: float):
    """Starts `stream` appending to a Delta table at `sink`, created first with the change data feed on: every commit
    the stream makes is then in the feed `_latencies` reads its commit times from."""
    from delta.tables import DeltaTable

    DeltaTable.createIfNotExists(spark).location(sink).addColumns(stream.schema).property(
        "delta.enableChangeDataFeed", "true"
    ).execute()
    return (
        stream.writeStream.queryName(name).format("delta").option("checkpointLocation", checkpoint)
        .trigger(processingTime=f"{trigger_seconds} seconds").start(sink)
    )  # fmt: skip


def _seed_design(spark, config, landing: str, sink: str, checkpoint: str):
    """The original design: a CSV file stream, maxFilesPerTrigger=1, a 30-second processing-time trigger, each file
    typed and scored (no de-duplication, no MERGE) and appended to a Delta sink (change data feed on, to time it)."""
    from pyspark.sql import functions as F

    from leadscore.ingest import silver
    from leadscore.schema import RAW_NAMES
    from leadscore.scoring.model import score
    from leadscore.scoring.serving import AliasedModel

    champion = AliasedModel(config)
    champion.refresh()
    raw = (
        spark.readStream.format("csv").schema(export_schema()).option("header", "true").option("maxFilesPerTrigger", 1)
        .load(landing)
        .select(*RAW_NAMES, F.col("_metadata.file_path").alias("_source_file"),
                F.col("_metadata.file_modification_time").alias("_file_modification_time"),
                F.lit(0).alias("_line_number"))
    )  # fmt: skip
    scored = score(champion.model, silver.with_typed_columns(raw), champion.threshold, config.model.priority)
    out = scored.select(
        "prospect_id", "score", "prediction", "priority", "event_ts", F.current_timestamp().alias("scored_at")
    )
    return _timed_append(spark, out, "seed_design", sink, checkpoint, SEED_TRIGGER_SECONDS)


def _bare_file_stream(spark, landing: str, sink: str, checkpoint: str):
    """The floor of this stack for latency: the landing files' lines, unparsed and unchecked, appended to Delta on a
    near-zero trigger (change data feed on, to time it as ours). `event_ts` is the file's modification time, as in
    silver, so `_latencies` reads it the same way."""
    from pyspark.sql import functions as F

    lines = (
        spark.readStream.format("text").option("pathGlobFilter", "*.csv").load(landing)
        .select("value", F.col("_metadata.file_modification_time").alias("event_ts"))
    )  # fmt: skip
    return _timed_append(spark, lines, "floor", sink, checkpoint, FLOOR_TRIGGER_SECONDS)


def _epoch_ms(timestamp: str) -> int:
    """A progress report's ISO timestamp in epoch ms, to compare with when steady state began."""
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
    """Median and p95 of the commits' time (see `_commits`), and the median MERGE execution time if any merged."""
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


def landing(lakehouse: Path, leg: str) -> str:
    """The leg's own landing folder: each leg gets its own copy of the traffic."""
    folder = lakehouse / f"landing_{leg}"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


def _ours(spark, config, lakehouse: Path, land) -> dict:
    """Our two queries on the traffic. Steady state starts after the warm-up: latencies count the rows landed after
    it; per-batch figures, Delta commits and Catalyst's rule time count what the queries ran after it (the rule
    timer is JVM-wide, so it is read before another leg starts)."""
    from leadscore import realtime

    steps = _BatchSteps()
    logger = logging.getLogger("leadscore")
    logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))  # the batches' log lines carry their steps
    logger.addHandler(steps)
    with TreeSampler(os.getpid()) as stream_process:  # this driver and its JVM while only our queries run
        queries = realtime.start(spark, config, landing(lakehouse, "ours"))
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
    logger.removeHandler(steps)
    batches = {name: _batch_figures(warm[name]) for name in ("ingest", "scores")}
    commits = {
        "ingest": _commit_figures([c for logical in ("bronze_leads", "silver_leads", "score_events")
                                   for c in _commits(config.table(logical).location, steady_ms)]),
        "scores": _commit_figures(_commits(config.table("lead_scores").location, steady_ms)),
    }  # fmt: skip
    ours = len(warm["ingest"]) + len(warm["scores"])
    return {
        "landed": landed,
        "replay_seconds": round(replay_seconds, 1),
        "steady": _view_latencies(spark, config, steady_ms),
        "all_files": _view_latencies(spark, config, None),
        "merge_every_seconds": config.stream.merge_every_seconds,
        "ingest_batch_s": batches["ingest"].get("batch_s"),
        "live_steps_median_s": steps.medians(steady_ms),
        "scores_batch_s": batches["scores"].get("batch_s"),
        "planning_s_per_batch": round(rule_seconds / ours, 3) if ours else None,
        "ingest_commit_s": commits["ingest"].get("commit_s"),
        "scores_commit_s": commits["scores"].get("commit_s"),
        "batches": batches,
        "planning": {"rule_seconds": round(rule_seconds, 2),
                     "warm_batches": {name: len(progress) for name, progress in warm.items()}},
        "commits": commits,
        "stream_peak_rss_mb": stream_process.peak_mb,
    }  # fmt: skip


def _seed_leg(spark, config, lakehouse: Path, land) -> dict:
    """The original design on the same traffic, stopped one trigger after its last file landed."""
    sink = str(lakehouse / "seed_design_scores")
    checkpoint = str(lakehouse / "_checkpoints" / "seed_design")
    seed = _seed_design(spark, config, landing(lakehouse, "seed"), sink, checkpoint)
    landed, _ = land("seed")
    time.sleep(SEED_TRIGGER_SECONDS)  # its trigger's last batch over what landed
    seed.stop()
    batches = sum(1 for p in seed.recentProgress if p["numInputRows"])
    return {"seed_design": {**_latencies(spark, sink, None), "landed_files": landed["files"],
                            "batches_with_rows": batches}}  # fmt: skip


def _floor_leg(spark, config, lakehouse: Path, land) -> dict:
    """The bare file stream on the same traffic, after the warm-up."""
    sink = str(lakehouse / "floor_lines")
    floor = _bare_file_stream(spark, landing(lakehouse, "floor"), sink, str(lakehouse / "_checkpoints" / "floor"))
    _, steady_ms = land("floor")
    floor.processAllAvailable()
    batches = len(_warm_batches(floor, steady_ms))
    floor.stop()
    return {"floor": {**_latencies(spark, sink, steady_ms), "trigger_seconds": FLOOR_TRIGGER_SECONDS,
                      "batches": batches}}  # fmt: skip


# The full bench's legs, in the order it runs them
LEGS = {"ours": _ours, "seed_design": _seed_leg, "floor": _floor_leg}


def child_latency(args: dict) -> dict:
    """Files land at one a second into each leg of `legs` (default: all of LEGS, in its order): our two queries, the
    original design, the bare file stream. One after another, each alone on the machine: run at once, the three
    shared its 2 cores and each measured the others' load as much as its own. `warmup_seconds` (default
    WARMUP_SECONDS) of files are not steady state.
    """
    from leadscore.synthetic.simulator import GENERATED, replay

    lakehouse = Path(args["lakehouse"])
    spark, config = session(
        lakehouse, args["tracking_uri"], stream=True, **{"stream.trigger_seconds": args["trigger_seconds"]}
    )
    spark.conf.set("spark.sql.streaming.numRecentProgressUpdates", "100000")  # every batch of the run, not the last 100
    files = int(args["seconds"])
    warmup = args.get("warmup_seconds", WARMUP_SECONDS)
    warmup = warmup if files >= 4 * warmup else 0  # a tiny run keeps every file

    def land(leg: str, on_warm=None) -> tuple[dict, int]:
        """The leg's traffic into its own landing folder; (what landed, when steady state began in epoch ms)."""
        say(f"latency ({leg}): one file of 50 leads per second for {files}s")
        steady_ms = int(time.time() * 1000) + warmup * 1000
        timer = threading.Timer(warmup, on_warm) if on_warm else None
        if timer:
            timer.start()
        landed = replay(GENERATED, landing(lakehouse, leg), files, 1.0, rows=40 * files, follow_up_share=0.2, seed=SEED)
        if timer:
            timer.join()
        return landed, steady_ms

    legs = args.get("legs", list(LEGS))
    details = {"trigger_seconds": args["trigger_seconds"], "warmup_seconds": warmup,
               "legs": f"{', then '.join(legs)}: each alone, on the same traffic"}  # fmt: skip
    for leg in legs:
        details |= LEGS[leg](spark, config, lakehouse, land)
    return details


def latency_keys(details: dict | None) -> dict:
    """The latency child's headline figures, beside the original design and the floor of this stack (None for a leg
    that did not run)."""
    details = details or {}
    ours, seed, floor = details.get("steady", {}), details.get("seed_design", {}), details.get("floor", {})
    return {
        "latency_p50_s": ours.get("p50_s"),
        "latency_p95_s": ours.get("p95_s"),
        "latency_max_s": ours.get("max_s"),
        "merge_lag_p95_s": ours.get("merge_lag_p95_s"),
        "live_batch_s": details.get("ingest_batch_s"),  # the live query is the ingest query, scoring its batches
        "seed_latency_p50_s": seed.get("p50_s"),
        "seed_latency_max_s": seed.get("max_s"),
        "floor_latency_p50_s": floor.get("p50_s"),
        "latency_ratio_to_floor": ratio(ours.get("p50_s"), floor.get("p50_s")),
        "latency_ratio_to_seed": ratio(seed.get("p50_s"), ours.get("p50_s")),
        **{key: details.get(key) for key in (
            "ingest_batch_s", "scores_batch_s", "planning_s_per_batch", "ingest_commit_s", "scores_commit_s")},
        "latency_stream_peak_rss_mb": details.get("stream_peak_rss_mb"),
    }  # fmt: skip


def latency_phase(lake: Path, models: str, seconds: int, trigger_seconds: float, record) -> None:
    """The latency child on a new lakehouse `lake` (its own silver and scores, empty at the start), `seconds` files
    landed per leg, our queries on a `trigger_seconds` trigger."""
    argv = child_argv("latency", lakehouse=str(lake), tracking_uri=models, seconds=seconds,
                      trigger_seconds=trigger_seconds)  # fmt: skip
    d, w, p, rc = run_child(argv, "latency")
    record("latency", latency_keys(d), d, w, p, rc)
