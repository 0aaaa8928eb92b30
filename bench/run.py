"""leadscore benchmarks: ingest, training, transform, backlog drain, MERGE of updates,
steady-state latency beside the original design, driver memory, and per-batch cost as the tables grow. Writes
bench/results/latest.json and latest.md. The quick bench (bench/quick.py) runs this file's children too.

Beside our figures, the same run measures the ceiling of this stack on the same inputs (Spark's CSV reader -> a
plain Delta append; a plain Delta append of the scored leads; a bare file stream -> Delta append for latency) and
reports ours as a share of it: a ratio survives a noisy machine, absolute rows/s do not.

    make bench                                    # full scale: every phase, what docs/performance.md reports
    BENCH_SCALE=small make bench                  # every phase on smaller sizes
    BENCH_ARGS="--phases ingest_1m,latency" make bench   # a subset of the phases (flags as below)
    .venv/bin/python bench/run.py --scale tiny --phases ingest_small,latency --out /tmp/b
    make bench-quick                              # the headline figures beside their ceilings, in minutes
    BENCH_BASELINE=<another checkout> make bench-quick   # that checkout and this one, A B A B (bench/quick.py)
    make bench-smoke                              # both benches at a tiny size: every phase runs, keys are written

Every phase runs in its own process (a fresh Spark driver), so each phase's peak resident memory (the Python
driver and its JVM, the whole process tree) is its own. Progress goes to stderr; results are rewritten after every
phase, so a run cut short still leaves what it measured. Generated inputs are cached in .cache/bench/data.
Sizes: BENCH_SCALE (full|small|tiny) or --scale, and each one alone with BENCH_ROWS_SMALL, BENCH_ROWS_1M,
BENCH_ROWS_10M, BENCH_LATENCY_SECONDS, BENCH_FLAT_SMALL_ROWS, BENCH_TRIGGER_SECONDS.

This file only chooses the phases and runs them in order. Each phase is in its own module, holding its children and
what it records: phases/ingest.py (ingest_small, ingest_1m, and the ceiling beside them), phases/model.py,
phases/transform.py, phases/drain.py (with the update MERGE), phases/latency.py, phases/flat_cost.py and
phases/memory.py (ingest_10m, train_1m). What they share (the child process and its memory sampling, the session,
the results files) is harness.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import threading
from pathlib import Path

from harness import CACHE, KEYS, RESULTS, generated, load_average, machine, markdown, say, sized, write
from phases import drain, flat_cost, ingest, latency, memory, model, transform

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
# What `--child NAME` runs: each phase module's children, by the name the phase functions pass to child_argv
CHILDREN = {"ingest": ingest.child_ingest, "ingest_ceiling": ingest.child_ingest_ceiling,
            "transform": transform.child_transform, "drain": drain.child_drain, "latency": latency.child_latency,
            "flat_cost": flat_cost.child_flat_cost, "flat_cost_build": flat_cost.child_flat_cost_build}  # fmt: skip


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
    # A child (CHILDREN) in this process: what the phases and the quick bench run in a fresh driver
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
    sizes = sized(SCALES[args.scale])
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
        load = load_average()[0]
        result["load"].update({k: load for k in keys})
        result["phases"][phase] = {
            "details": details,
            "wall_seconds": round(wall, 1),
            "peak_rss_mb": peak,
            "exit": rc,
            "load_average_after": load_average(),
        }
        write(result, args.out)

    small, large = sizes["rows_small"], sizes["rows_1m"]
    lake_1m, models, ingested_1m = work / "lake_1m", None, False
    beside = None
    if args.memory_beside and "ingest_10m" in phases:
        phases.remove("ingest_10m")
        beside = threading.Thread(target=memory.memory_phase, args=(sizes["rows_10m"], work, record), daemon=True)
        beside.start()
    for phase in phases:
        if phase == "ingest_small":
            ingest.ingest_phase(phase, work / "lake_small", generated(small), work, record)
        elif phase == "ingest_1m":
            ingested_1m = ingest.ingest_phase(phase, lake_1m, generated(large), work, record)
        elif phase == "ingest_10m":
            memory.memory_phase(sizes["rows_10m"], work, record)
        elif phase == "model":
            models = model.model_phase(work, small, args.no_real, result["skipped"], record)
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
                transform.transform_phase(lake_1m, models, record)
            elif phase == "drain":
                drain.drain_phase(lake_1m, models, generated(large), work, record)
            elif phase == "latency":
                latency.latency_phase(work / "lake_latency", models, sizes["latency_seconds"],
                                      sizes["trigger_seconds"], record)  # fmt: skip
            elif phase == "flat_cost":
                small_table = (work / "lake_flat_small", generated(sizes["flat_small_rows"]))
                flat_cost.flat_cost_phase(small_table, (lake_1m, generated(large)), models, record)
            else:
                memory.train_1m_phase(lake_1m, record)
    if beside is not None:
        say("waiting for the 10M-row memory phase running beside the others")
        beside.join()
    result["machine"]["load_average_at_end"] = load_average()
    write(result, args.out)
    say(f"results in {args.out / 'latest.json'} and {args.out / 'latest.md'}")
    print(markdown(result))
    return 0 if all(ph["exit"] == 0 for ph in result["phases"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
