"""What every bench phase shares: where things live, the generated inputs, a phase child's Spark session, running a
child process while sampling its memory, and writing the results (latest.json, latest.md) with the machine and
commit they were taken on.

The parent (`run.py`, or `quick.py` for each checkout it compares) runs each child as `bench/run.py --child NAME
--args JSON` through `run_child`, so each child is a fresh driver whose peak resident memory is its own; a child's
last stdout line is its JSON.
"""

from __future__ import annotations

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
RUN = Path(__file__).resolve().with_name("run.py")  # what a phase's child process runs, with --child
LEADSCORE = Path(sys.executable).with_name("leadscore")
SEED = 11
ROWS_PER_FILE = 100_000

# The figures latest.json always holds (null when their phase did not run or failed), in latest.md's order, and the
# targets set for some of them.
TARGETS = {  # on a 2-core machine
    "ingest_rows_per_s": (">=", 100_000),
    "ingest_share_of_ceiling": (">=", 0.5),
    "transform_rows_per_s": (">=", 200_000),
    "drain_leads_per_s": (">=", 50_000),
    "drain_share_of_ceiling": (">=", 0.6),
    "latency_p50_s": ("<=", 2.0),
    "latency_p95_s": ("<=", 4.0),
    "latency_ratio_to_floor": ("<=", 2.5),
    "latency_ratio_to_seed": (">=", 20),
    "merge_lag_p95_s": ("<=", 15.0),  # the merge cadence (conf stream.merge_every_seconds) + 5 s
    "live_batch_s": ("<=", 1.0),
    "ingest_batch_s": ("<=", 0.7),
    "scores_batch_s": ("<=", 1.0),
    "planning_s_per_batch": ("<=", 0.2),
    "ingest_commit_s": ("<=", 0.2),
    "scores_commit_s": ("<=", 0.2),
    "ingest_batch_ratio_large_to_small": ("<=", 1.2),
    "scores_batch_ratio_large_to_small": ("<=", 1.2),
    "peak_rss_mb_10m": ("<=", 3072),
    "latency_stream_peak_rss_mb": ("<=", 3072),
}
KEYS = (
    "ingest_rows_per_s", "ingest_ceiling_rows_per_s", "ingest_share_of_ceiling", "ingest_rows_per_s_100k",
    "ingest_ceiling_rows_per_s_100k", "ingest_share_of_ceiling_100k", "ingest_rows_per_s_1m",
    "ingest_rows_per_s_10m", "train_seconds_real", "train_seconds_1m", "transform_rows_per_s", "drain_leads_per_s",
    "drain_ceiling_leads_per_s", "drain_share_of_ceiling", "update_merge_leads_per_s", "latency_p50_s",
    "latency_p95_s", "latency_max_s", "merge_lag_p95_s", "live_batch_s", "seed_latency_p50_s", "seed_latency_max_s",
    "floor_latency_p50_s", "latency_ratio_to_floor", "latency_ratio_to_seed", "ingest_batch_s", "scores_batch_s",
    "planning_s_per_batch", "ingest_commit_s", "scores_commit_s", "ingest_batch_s_small_table",
    "ingest_batch_s_large_table", "ingest_batch_ratio_large_to_small", "scores_batch_s_small_table",
    "scores_batch_s_large_table", "scores_batch_ratio_large_to_small", "peak_rss_mb_1m", "peak_rss_mb_10m",
    "latency_stream_peak_rss_mb",
    "kafka_latency_p50_s", "kafka_latency_p95_s", "kafka_floor_latency_p50_s", "kafka_latency_ratio_to_floor",
)  # fmt: skip


def say(message: str) -> None:
    """Progress, timestamped, to stderr: a child's stdout is kept for its JSON."""
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def generated(rows: int) -> Path:
    """`rows` generated leads in files of at most 100k rows (at least 2 files, one per core), cached."""
    folder = CACHE / "data" / f"rows-{rows}-seed-{SEED}"
    if not (folder / ".done").is_file():
        from leadscore.synthetic.generator import generate

        shutil.rmtree(folder, ignore_errors=True)
        say(f"generating {rows:,} rows into {folder}")
        generate(rows, SEED, max(2, -(-rows // ROWS_PER_FILE)), folder)
        (folder / ".done").touch()
    return folder


def session(lakehouse: Path, tracking_uri: str | None = None, *, stream: bool = False, **overrides):
    """A child's Spark session and config: local, on its own lakehouse (and the model's tracking store, when it
    scores), without the Spark UI; `overrides` are config keys a phase sets for what it measures. `stream`: the
    session `leadscore stream` builds (its own heap), for a phase that measures the real-time path."""
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
    return get_spark(config.stream_spark if stream else config.spark, "leadscore-bench"), config


def export_schema():
    """The export's columns, all strings, plus the empty column its trailing comma makes: what Spark's CSV reader
    needs to read an export without inferring anything."""
    from pyspark.sql import types as T

    from leadscore.schema import RAW_NAMES

    return T.StructType([T.StructField(n, T.StringType()) for n in (*RAW_NAMES, "_trailing")])


class TreeSampler:
    """Peak resident memory and CPU seconds of a process and all its descendants (a driver and its JVM), sampled in a
    thread while the block runs."""

    def __init__(self, pid: int, interval_seconds: float = 0.2):
        self.pid = pid
        self.interval_seconds = interval_seconds
        self.peak_bytes = 0
        self._cpu: dict[int, float] = {}  # CPU seconds per process of the tree, as last seen
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._done.set()
        self._thread.join()

    @property
    def peak_mb(self) -> int:
        return round(self.peak_bytes / 2**20)

    @property
    def cpu_seconds(self) -> float:
        return round(sum(self._cpu.values()), 1)

    def _sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._done.is_set():
            memory = {}
            try:
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        resident = p.memory_info()
                        memory[p.pid] = (p.ppid(), resident.rss, resident.vms)
                        times = p.cpu_times()
                        self._cpu[p.pid] = times.user + times.system
            except psutil.Error:
                break
            self.peak_bytes = max(self.peak_bytes, tree_resident_bytes(memory))
            self._done.wait(self.interval_seconds)


SAME_MEMORY_TOLERANCE = 0.05  # a parent's RSS and virtual size move this much in the milliseconds between two reads


def tree_resident_bytes(memory: dict[int, tuple[int, int, int]]) -> int:
    """Resident bytes of a process tree from each process's (parent pid, RSS, virtual size).

    A child whose RSS and virtual size both equal its parent's is its parent's memory seen a second time, not more
    memory: the JVM starts a helper (Hadoop's `chmod`, a shell) by vfork and exec, and between the two the child
    shares its parent's pages, and a sample caught there would double a peak. Equal within SAME_MEMORY_TOLERANCE:
    the two are read one after the other while the JVM runs, so an exact match can miss one.
    """

    def close(mine: int, theirs: int) -> bool:
        return abs(mine - theirs) <= SAME_MEMORY_TOLERANCE * theirs

    def shares_parents(ppid: int, rss: int, vms: int) -> bool:
        return ppid in memory and close(rss, memory[ppid][1]) and close(vms, memory[ppid][2])

    return sum(rss for ppid, rss, vms in memory.values() if not shares_parents(ppid, rss, vms))


def run_child(
    argv: list[str], label: str, *, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> tuple[dict | None, float, float, int]:
    """Runs a process (in `cwd`, with `env` when given), sampling the resident memory of its whole tree; (last-line
    JSON, wall s, peak MB, rc)."""
    say(f"{label}: {shlex.join(argv)}")
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=cwd, env=env)
    with TreeSampler(proc.pid) as tree:
        out, _ = proc.communicate()
    wall = time.perf_counter() - started
    lines = [line for line in out.strip().splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if proc.returncode == 0 and lines else None
    if isinstance(result, dict):  # CPU time of the tree: under load, what the work cost beside what it waited
        result["cpu_seconds"] = tree.cpu_seconds
    say(f"{label}: {'done' if result is not None else f'FAILED (exit {proc.returncode})'} in {wall:.1f}s, "
        f"{tree.cpu_seconds:.0f} CPU s, peak RSS {tree.peak_mb} MB")  # fmt: skip
    return result, wall, tree.peak_mb, proc.returncode


def child_argv(phase: str, **args) -> list[str]:
    """The command that runs one of run.py's children (`CHILDREN` there) in a fresh driver, `args` as its JSON."""
    return [sys.executable, str(RUN), "--child", phase, "--args", json.dumps(args)]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator (ours as a share of a ceiling, a latency as a multiple of another), or None when a
    phase failed to give either."""
    return round(numerator / denominator, 2) if numerator and denominator else None


def sized(defaults: dict) -> dict:
    """`defaults` (a scale's sizes), each overridden by its BENCH_<KEY> variable, and the real-time trigger."""
    chosen = dict(defaults)
    for key in chosen:
        env = os.environ.get(f"BENCH_{key.upper()}")
        if env:
            chosen[key] = int(float(env))
    chosen["trigger_seconds"] = float(os.environ.get("BENCH_TRIGGER_SECONDS", "0.5"))
    return chosen


def commit_of(checkout: Path) -> dict:
    """The commit a checkout is at, and whether its tracked files differ from it."""

    def git(*a: str) -> str | None:
        done = subprocess.run(["git", *a], capture_output=True, text=True, cwd=checkout, check=False)
        return done.stdout.strip() or None

    return {
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def load_average() -> list[float]:
    """The 1, 5 and 15-minute load averages: on a shared machine, what a figure was taken under."""
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    """What the figures were taken on (a figure means little without its cores, versions, commit and load)."""
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "spark_version": version("pyspark"),
        "delta_version": version("delta-spark"),
        "python": sys.version.split()[0],
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        **commit_of(ROOT),
        "load_average_at_start": load_average(),
    }


def fmt(value) -> str:
    """A figure for latest.md: small ratios and seconds with two decimals, counts and rates with thousands."""
    if value is None:
        return "—"
    if isinstance(value, float) and value < 100:
        return f"{value:.2f}"
    return f"{value:,.0f}" if isinstance(value, int | float) else str(value)


def markdown(result: dict) -> str:
    """latest.md: the run's machine and command, then each stable key with its target, whether it is met, and the
    load average when its phase ended (a figure taken under load reads differently)."""
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


def replace_file(path: Path, text: str) -> None:
    """Writes `path` whole (aside, then renamed), so a run cut short leaves the last complete file, never half."""
    temp = path.with_name(f"{path.name}.tmp")
    temp.write_text(text)
    temp.replace(path)


def write(result: dict, out: Path) -> None:
    """latest.json and latest.md, each replaced whole."""
    replace_file(out / "latest.json", json.dumps(result, indent=2) + "\n")
    replace_file(out / "latest.md", markdown(result))
