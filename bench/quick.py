"""The quick bench: the headline figures of `make bench`, each beside the stack's own ceiling, in one run of minutes;
for this checkout alone, or for another checkout (the baseline, A) and this one (B) alternately. Writes
bench/results/quick.json (the key names of latest.json) and quick.md.

    make bench-quick                                        # this checkout
    BENCH_BASELINE=/work/wt/old make bench-quick            # A/B: that checkout and this one, A B A B
    .venv/bin/python bench/quick.py --baseline ../old --rounds 3 --out /tmp/quick

Legs, each a child process of the checkout it measures (`bench/run.py --child`, a fresh driver):
- ingest: our ingest of 1M generated rows; ingest_ceiling: Spark's CSV reader -> a plain Delta append of the same
  files (`ingest_share_of_ceiling`);
- transform: the champion's scoring of the 1M silver rows that checkout's ingest wrote;
- drain: those leads scored into an empty lead_scores, beside a plain Delta append of the scored rows
  (`drain_share_of_ceiling`); the update MERGE is `make bench`'s;
- latency: one file of 50 leads (40 new, 10 follow-ups) a second into our queries, counted after a warm-up, then
  the same traffic into a bare file stream -> Delta append (`floor_latency_p50_s`). The original design's leg is
  `make bench`'s (a baseline whose latency child cannot leave it out runs it too).

Each round runs every leg in turn, each leg for the baseline and then for this checkout, so each leg runs A B A B
on the same generated files and the same model (the real sample's champion, `make bench`'s, trained once by this
checkout and kept in .cache/bench/models while the code and data that make it are unchanged). A side's figure is
the median of its rounds; `ratios` hold this checkout's over the baseline's (B/A). The baseline runs its own
children: with its own `.venv/bin/python` when it has one, else with this venv and PYTHONPATH=<baseline>/src first.

Sizes (defaults in QUICK, each overridden by its BENCH_<KEY> variable): BENCH_ROWS_1M, BENCH_LATENCY_SECONDS (files
landed per latency leg), BENCH_LATENCY_WARMUP_SECONDS, BENCH_ROWS_SMALL (the model's training set without the real
sample), BENCH_TRIGGER_SECONDS. Rounds: BENCH_ROUNDS or --rounds (default 1 alone, 2 with a baseline). The results
files are rewritten after every leg, so a run cut short keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import (
    CACHE,
    KEYS,
    RESULTS,
    ROOT,
    TARGETS,
    commit_of,
    fmt,
    generated,
    load_average,
    machine,
    ratio,
    replace_file,
    run_child,
    say,
    sized,
)
from phases import drain, ingest, latency, model, transform

QUICK = {"rows_small": 20_000, "rows_1m": 1_000_000, "latency_seconds": 60, "latency_warmup_seconds": 15}


@dataclass(frozen=True)
class Checkout:
    """A checkout whose bench children are run: `python` runs its bench/run.py with `env` (None: this process's)."""

    name: str
    root: Path
    python: str
    env: dict[str, str] | None
    interpreter: str

    def argv(self, child: str, args: dict) -> list[str]:
        return [self.python, str(self.root / "bench" / "run.py"), "--child", child, "--args", json.dumps(args)]


def this_checkout() -> Checkout:
    """This checkout, run with the interpreter running this file (its virtualenv's, from make)."""
    return Checkout("current", ROOT, sys.executable, None, f"{sys.executable} (this checkout's)")


def baseline_checkout(root: Path) -> Checkout:
    """The baseline at `root`, run with its own virtualenv when it has one, else with this one and its sources first
    on PYTHONPATH (which Spark's Python workers inherit)."""
    root = root.resolve()
    if not (root / "bench" / "run.py").is_file():
        raise SystemExit(f"quick bench: no bench/run.py in the baseline {root}")
    own = root / ".venv" / "bin" / "python"
    if own.is_file():
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        return Checkout("baseline", root, str(own), env, f"{own} (the baseline's own virtualenv)")
    path = os.pathsep.join(p for p in (str(root / "src"), os.environ.get("PYTHONPATH")) if p)
    # This venv's Delta jars, which its delta-spark names, in case the baseline was never set up
    env = {**os.environ, "PYTHONPATH": path, "LEADSCORE_JARS_DIR": str(ROOT / ".cache" / "jars")}
    return Checkout("baseline", root, sys.executable, env, f"{sys.executable} (this checkout's) with PYTHONPATH={path}")


@dataclass(frozen=True)
class Inputs:
    """What every side and round share: the generated files, the model and the sizes."""

    rows: Path
    models: str
    sizes: dict


@dataclass(frozen=True)
class Run:
    """One child's run: its JSON (None when it failed), wall time, the peak RSS of its tree and its exit status."""

    details: dict | None
    wall_seconds: float
    peak_rss_mb: int
    exit: int


@dataclass(frozen=True)
class Leg:
    """A measured leg: the child of run.py's CHILDREN it runs (`args`: its JSON from the inputs and the side's folder
    for the round) and the figures it gives, under latest.json's keys (`keys`: from its run and the round's figures
    so far)."""

    child: str
    args: Callable[[Inputs, Path], dict]
    keys: Callable[[Run, dict], dict]
    needs: str | None = None  # a leg whose lakehouse this one reads: skipped when that one failed


LEGS = (
    Leg("ingest", lambda i, f: {"lakehouse": str(f / "lake"), "source": str(i.rows)},
        lambda run, _: ingest.ingest_keys("1m", run.details, run.peak_rss_mb)),
    Leg("ingest_ceiling", lambda i, f: {"lakehouse": str(f / "plain_copy"), "source": str(i.rows)},
        lambda run, keys: ingest.ceiling_keys("1m", run.details, keys.get("ingest_rows_per_s_1m"))),
    Leg("transform", lambda i, f: {"lakehouse": str(f / "lake"), "tracking_uri": i.models},
        lambda run, _: transform.transform_keys(run.details), needs="ingest"),
    Leg("drain", lambda i, f: {"lakehouse": str(f / "lake"), "tracking_uri": i.models, "source": str(i.rows),
                               "updates": str(f / "updates"), "ceiling": str(f / "drain_ceiling"),
                               "update_merge": False},
        lambda run, _: drain.drain_keys(run.details), needs="ingest"),
    Leg("latency", lambda i, f: {"lakehouse": str(f / "lake_latency"), "tracking_uri": i.models,
                                 "seconds": i.sizes["latency_seconds"], "trigger_seconds": i.sizes["trigger_seconds"],
                                 "warmup_seconds": i.sizes["latency_warmup_seconds"], "legs": ["ours", "floor"]},
        lambda run, _: latency.latency_keys(run.details)),
)  # fmt: skip


def median(values: list) -> float | int | None:
    """The median of a figure over rounds (None when no round gave it), an integer when the figures are."""
    given = [v for v in values if v is not None]
    if not given:
        return None
    middle = statistics.median(given)
    return round(middle) if all(isinstance(v, int) for v in given) else round(middle, 3)


def new_result(checkouts: list[Checkout], sizes: dict, rounds: int, command: str) -> dict:
    """quick.json before the first run: every key of latest.json (null until measured), what runs and where."""
    return {**{key: None for key in KEYS}, "scale": "quick", "sizes": sizes, "rounds": rounds, "command": command,
            "machine": machine(), "wall_seconds": None, "model": None,
            "checkouts": {c.name: {"root": str(c.root), **commit_of(c.root), "interpreter": c.interpreter}
                          for c in checkouts}}  # fmt: skip


def compare(checkouts: list[Checkout], legs: tuple[Leg, ...], inputs: Inputs, rounds: int, work: Path,
            result: dict, save: Callable[[], None]) -> None:  # fmt: skip
    """Runs every leg `rounds` times for each checkout (the baseline first), leg after leg within a round. Into
    `result`: each run under `runs`, each side's figures (the median of its rounds) under its name and every round's
    under `per_round`, this checkout's at the top level as in latest.json, and B/A under `ratios`. `save` after each
    run."""
    figures = {c.name: [{} for _ in range(rounds)] for c in checkouts}
    result["runs"] = {leg.child: {c.name: [] for c in checkouts} for leg in legs}
    for number in range(rounds):
        for leg in legs:
            for checkout in checkouts:
                runs = result["runs"][leg.child][checkout.name]
                label = f"round {number + 1}/{rounds} {checkout.name} {leg.child}"
                if leg.needs and result["runs"][leg.needs][checkout.name][number]["exit"] != 0:
                    say(f"{label}: skipped, its {leg.needs} failed")
                    runs.append({"skipped": f"its {leg.needs} failed", "exit": None})
                    continue
                argv = checkout.argv(leg.child, leg.args(inputs, work / checkout.name / f"round-{number + 1}"))
                details, wall, peak, rc = run_child(argv, label, cwd=checkout.root, env=checkout.env)
                run = Run(details, round(wall, 1), peak, rc)
                keys = figures[checkout.name][number]
                keys |= leg.keys(run, keys) if details is not None else {}
                runs.append({**asdict(run), "load_average_after": load_average()})
                _summarise(result, figures)
                save()
        for checkout in checkouts:
            shutil.rmtree(work / checkout.name / f"round-{number + 1}", ignore_errors=True)


def _summarise(result: dict, figures: dict[str, list[dict]]) -> None:
    result["per_round"] = {name: {key: [r.get(key) for r in by_round] for key in KEYS
                                  if any(r.get(key) is not None for r in by_round)}
                           for name, by_round in figures.items()}  # fmt: skip
    for name, by_round in figures.items():
        result[name] = {key: median([r.get(key) for r in by_round]) for key in KEYS}
    result.update(result["current"])
    if "baseline" in figures:
        result["ratios"] = {key: ratio(result["current"][key], result["baseline"][key]) for key in KEYS}


def write_results(result: dict, out: Path, started: float) -> None:
    """quick.json and quick.md, each replaced whole, with the wall time since `started` and the load now."""
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["machine"]["load_average_at_end"] = load_average()
    replace_file(out / "quick.json", json.dumps(result, indent=2) + "\n")
    replace_file(out / "quick.md", markdown(result))


def markdown(result: dict) -> str:
    """quick.md: what ran where, then each figure measured (with its rounds, and B/A beside a baseline)."""
    ab = "baseline" in result
    m = result["machine"]
    lines = [
        f"Quick bench, {result['wall_seconds'] or '—'} s wall; sizes {json.dumps(result['sizes'])}, "
        f"{result['rounds']} round(s) per leg; {m['cores']} cores, {m['memory_gb']} GB, Spark {m['spark_version']}, "
        f"Delta {m['delta_version']}, {m['date']}; load average (1, 5, 15 min) {m['load_average_at_start']} at "
        f"the start, {m.get('load_average_at_end') or '—'} at the end.",
        "",
        f"Command: `{result['command']}`. Model: {(result['model'] or {}).get('source', '—')}.",
        "",
    ]
    for name, checkout in result["checkouts"].items():
        dirty = " (dirty tree)" if checkout["git_dirty"] else ""
        lines.append(f"- {name}: {checkout['root']} at {(checkout['git_commit'] or '')[:10]}{dirty}, children run "
                     f"with {checkout['interpreter']}")  # fmt: skip
    head = "| figure | baseline (A) | current (B) | B/A | target |" if ab else "| figure | value | target |"
    lines += ["", head, "|---|" + "---:|" * (3 if ab else 1) + "---|"]
    for key in KEYS:
        sides = [s for s in ("baseline", "current") if s in result]
        if all(result[s][key] is None for s in sides):
            continue
        cells = [fmt(result[s][key]) + _rounds(result["per_round"][s].get(key)) for s in sides]
        target = TARGETS.get(key)
        cells += [fmt(result["ratios"][key])] if ab else []
        lines.append(f"| `{key}` | {' | '.join(cells)} | {f'{target[0]} {target[1]:,}' if target else ''} |")
    return "\n".join(lines) + "\n"


def _rounds(values: list | None) -> str:
    return f" ({' / '.join(fmt(v) for v in values)})" if values and len(values) > 1 else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    baseline, rounds = os.environ.get("BENCH_BASELINE"), os.environ.get("BENCH_ROUNDS")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=baseline or None,
        help="another checkout to run alternately with this one (default: BENCH_BASELINE)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=int(rounds) if rounds else None,
        help="rounds of every leg (default: BENCH_ROUNDS, else 1 alone and 2 beside a baseline)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default: bench/results)")
    parser.add_argument("--work", type=Path, help="lakehouses (default: .cache/bench/quick, emptied first)")
    parser.add_argument("--no-real", action="store_true", help="train the model on generated leads")
    args = parser.parse_args()
    checkouts = [this_checkout()]
    if args.baseline:
        checkouts.insert(0, baseline_checkout(args.baseline))
    rounds = args.rounds or (2 if args.baseline else 1)
    sizes = sized(QUICK)
    work = args.work or CACHE / "quick"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    args.out.mkdir(parents=True, exist_ok=True)
    command = "make bench-quick"
    if args.baseline:
        command = f"BENCH_BASELINE={shlex.quote(str(args.baseline))} make bench-quick"
    if sys.argv[1:]:
        command = shlex.join([".venv/bin/python", "bench/quick.py", *sys.argv[1:]])

    started = time.perf_counter()
    result = new_result(checkouts, sizes, rounds, command)

    def save() -> None:
        write_results(result, args.out, started)

    setup: dict = {}

    def record(phase: str, keys: dict, details: dict | None, wall: float, peak: int, rc: int) -> None:
        setup[phase] = {"wall_seconds": round(wall, 1), "peak_rss_mb": peak, "exit": rc}

    rows = generated(sizes["rows_1m"])
    models, trained = model.cached_model(sizes["rows_small"], args.no_real, {}, record)
    source = "the real sample's champion" if model.on_real_sample(args.no_real) else "a champion of generated leads"
    result["model"] = {"tracking_uri": models, "trained_in_this_run": trained, "training": setup,
                       "source": f"{source}, {'trained in this run' if trained else 'kept from an earlier run'} by "
                                 "this checkout, scoring for every side"}  # fmt: skip
    if models is None:
        save()
        say("quick bench: no model, so nothing to score with")
        return 1
    compare(checkouts, LEGS, Inputs(rows, models, sizes), rounds, work, result, save)
    save()
    say(f"results in {args.out / 'quick.json'} and {args.out / 'quick.md'}, {result['wall_seconds']:.0f} s")
    print(markdown(result))
    runs = [run for legs in result["runs"].values() for side in legs.values() for run in side]
    return 0 if all(run["exit"] == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
