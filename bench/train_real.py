"""The model-quality bar on the real sample, end to end: ingest -> gold -> train each feature set, test metrics as JSON.

Each step is the `leadscore` command a user runs, in its own process (so each training's wall time is its own):

    .venv/bin/python bench/train_real.py                      # both feature sets, tuned, in a temporary lakehouse
    .venv/bin/python bench/train_real.py --no-tune --feature-sets full --lakehouse /tmp/lh

Progress goes to stderr; the last line of stdout is one JSON object. `measure()` is the same, for a caller.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "leads.csv"
LEADSCORE = Path(sys.executable).with_name("leadscore")
# The bar on the test split.
BARS = {"full": {"auc_roc": 0.985, "accuracy": 0.95}, "pre_contact": {"auc_roc": 0.91}}


def leadscore(*args: str) -> tuple[dict, float]:
    """Runs one command; its JSON last line and its wall time."""
    started = time.perf_counter()
    done = subprocess.run([str(LEADSCORE), *args], stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1]), round(time.perf_counter() - started, 1)


def measure(sample: Path, lakehouse: Path, feature_sets: list[str], tune: bool, seed: int | None = None) -> dict:
    ingested, ingest_seconds = leadscore("ingest", "--source", str(sample), "--lakehouse", str(lakehouse))
    runs = {}
    for feature_set in feature_sets:
        flags = [
            "--feature-set",
            feature_set,
            *(["--tune"] if tune else []),
            *(["--seed", str(seed)] if seed is not None else []),
        ]
        result, wall = leadscore("train", "--lakehouse", str(lakehouse), *flags)
        test = result["test"]
        runs[feature_set] = {
            **result,
            "wall_seconds": wall,
            "bar": {
                metric: {"target": target, "value": round(test[metric], 4), "met": test[metric] >= target}
                for metric, target in BARS.get(feature_set, {}).items()
            },
        }
    return {
        "sample": str(sample),
        "ingest": ingested,
        "ingest_seconds": ingest_seconds,
        "tune": tune,
        "runs": runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=SAMPLE, help=f"lead export (default: {SAMPLE})")
    parser.add_argument("--lakehouse", type=Path, help="lakehouse to build (default: a temporary one, removed after)")
    parser.add_argument("--feature-sets", nargs="+", default=["full", "pre_contact"])
    parser.add_argument("--no-tune", dest="tune", action="store_false", help="train without the grid search")
    parser.add_argument("--seed", type=int, help="seed (default: model.seed in conf)")
    args = parser.parse_args()
    if not args.sample.is_file():
        print(f"train_real: no sample at {args.sample}", file=sys.stderr)
        return 2
    if args.lakehouse:
        result = measure(args.sample, args.lakehouse, args.feature_sets, args.tune, args.seed)
    else:
        with tempfile.TemporaryDirectory(prefix="leadscore-bench-") as folder:
            result = measure(args.sample, Path(folder) / "lakehouse", args.feature_sets, args.tune, args.seed)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
