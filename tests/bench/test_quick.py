"""The quick bench's A/B orchestration, with each checkout's bench children replaced by a fake child script: the
order the legs run in, which interpreter runs each side, the medians and ratios, and quick.json's layout."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import quick  # noqa: E402
from harness import KEYS  # noqa: E402

# A checkout's bench/run.py as the quick bench calls it (`--child NAME --args JSON`): it logs the call beside the
# checkouts and prints figures of its checkout's speed (`speed` file) times its round (the calls of that child so far)
FAKE_CHILD = """
import json, os, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
child, args = sys.argv[sys.argv.index("--child") + 1], json.loads(sys.argv[sys.argv.index("--args") + 1])
log = root.parent / "calls.jsonl"
calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
number = 1 + sum(1 for c in calls if c["checkout"] == root.name and c["child"] == child)
with log.open("a") as out:
    out.write(json.dumps({"checkout": root.name, "child": child, "args": args, "python": sys.executable,
                          "pythonpath": os.environ.get("PYTHONPATH")}) + "\\n")
if (root / f"fail-{child}-{number}").exists():
    sys.exit(1)
rate = int((root / "speed").read_text()) * number
print(json.dumps({
    "ingest": {"rows_per_s": rate},
    "ingest_ceiling": {"rows_per_s": 10_000},
    "transform": {"rows_per_s": 2 * rate},
    "drain": {"drain_leads_per_s": rate, "drain_ceiling_leads_per_s": 4 * rate},
    "latency": {"steady": {"p50_s": 8 / number, "p95_s": 16.0, "max_s": 20.0, "merge_lag_p95_s": 12.0},
                "ingest_batch_s": 0.9, "floor": {"p50_s": 0.5}},
}[child]))
"""


def fake_checkout(folder: Path, speed: int) -> Path:
    (folder / "bench").mkdir(parents=True)
    (folder / "bench" / "run.py").write_text(FAKE_CHILD)
    (folder / "speed").write_text(str(speed))
    return folder


def run_quick(tmp_path: Path, baseline: quick.Checkout, current: quick.Checkout, rounds: int) -> dict:
    sizes = quick.sized(quick.QUICK)
    result = quick.new_result([baseline, current], sizes, rounds, "make bench-quick")
    out = tmp_path / "results"
    out.mkdir()
    started = time.perf_counter()
    inputs = quick.Inputs(tmp_path / "generated", "sqlite:///models/mlflow.db", sizes)
    quick.compare([baseline, current], quick.LEGS, inputs, rounds, tmp_path / "work", result,
                  lambda: quick.write_results(result, out, started))  # fmt: skip
    return json.loads((out / "quick.json").read_text())


def calls(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]


def new_checkouts(folder: Path) -> tuple[quick.Checkout, quick.Checkout]:
    """A baseline without a virtualenv of its own, half as fast as this checkout."""
    baseline = quick.baseline_checkout(fake_checkout(folder / "old", 1_000))
    return baseline, quick.Checkout("current", fake_checkout(folder / "new", 2_000), sys.executable, None, "this venv")


@pytest.fixture(scope="module")
def two_rounds(tmp_path_factory) -> tuple[Path, dict]:
    """One A/B run of two rounds: (its folder, quick.json)."""
    folder = tmp_path_factory.mktemp("quick")
    return folder, run_quick(folder, *new_checkouts(folder), rounds=2)


def test_each_leg_runs_for_the_baseline_then_this_checkout_round_after_round(two_rounds):
    folder, _ = two_rounds

    order = [(c["child"], c["checkout"]) for c in calls(folder)]
    legs = [leg.child for leg in quick.LEGS]
    assert order == [(leg, side) for _ in range(2) for leg in legs for side in ("old", "new")]
    for leg in legs:
        assert [side for child, side in order if child == leg] == ["old", "new", "old", "new"]


def test_both_sides_read_the_same_generated_files_and_each_its_own_ingested_lakehouse(two_rounds):
    folder, _ = two_rounds

    args: dict[tuple[str, str], list[dict]] = {}  # (child, checkout): its args, round after round
    for call in calls(folder):
        args.setdefault((call["child"], call["checkout"]), []).append(call["args"])
    sources = {a["source"] for side in ("old", "new") for a in args[("ingest", side)] + args[("drain", side)]}
    assert sources == {str(folder / "generated")}
    for side in ("old", "new"):
        for n in (0, 1):
            lake = args[("ingest", side)][n]["lakehouse"]
            assert args[("transform", side)][n]["lakehouse"] == args[("drain", side)][n]["lakehouse"] == lake
    assert len({a["lakehouse"] for side in ("old", "new") for a in args[("ingest", side)]}) == 4
    assert args[("drain", "new")][0]["update_merge"] is False
    assert args[("latency", "old")][0]["legs"] == ["ours", "floor"]


def test_a_baseline_without_a_virtualenv_runs_with_this_one_and_its_sources_first(two_rounds):
    folder, _ = two_rounds

    for call in calls(folder):
        if call["checkout"] == "old":
            assert call["pythonpath"].split(":")[0] == str(folder / "old" / "src")
            assert call["python"] == sys.executable
        else:
            assert call["pythonpath"] is None or str(folder / "old") not in call["pythonpath"]


def test_a_baseline_with_its_own_virtualenv_runs_with_it_and_without_pythonpath(tmp_path, monkeypatch):
    root = fake_checkout(tmp_path / "old", 1_000)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(sys.executable)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "elsewhere"))
    baseline = quick.baseline_checkout(root)
    current = quick.Checkout("current", fake_checkout(tmp_path / "new", 2_000), sys.executable, None, "this venv")

    run_quick(tmp_path, baseline, current, rounds=1)

    old = [c for c in calls(tmp_path) if c["checkout"] == "old"]
    assert {c["python"] for c in old} == {str(root / ".venv" / "bin" / "python")}
    assert {c["pythonpath"] for c in old} == {None}
    assert baseline.interpreter.startswith(str(root / ".venv" / "bin" / "python"))


def test_each_side_is_the_median_of_its_rounds_and_ratios_are_this_checkout_over_the_baseline(two_rounds):
    _, result = two_rounds

    # ingest: baseline 1,000 then 2,000 rows/s; this checkout 2,000 then 4,000; the ceiling 10,000 for both
    assert result["per_round"]["baseline"]["ingest_rows_per_s"] == [1_000, 2_000]
    assert result["baseline"]["ingest_rows_per_s"] == 1_500
    assert result["current"]["ingest_rows_per_s"] == 3_000
    assert result["ratios"]["ingest_rows_per_s"] == 2.0
    assert result["per_round"]["current"]["ingest_share_of_ceiling"] == [0.2, 0.4]
    assert result["current"]["ingest_share_of_ceiling"] == pytest.approx(0.3)
    assert result["ratios"]["ingest_ceiling_rows_per_s"] == 1.0
    assert result["current"]["transform_rows_per_s"] == 6_000
    assert result["current"]["drain_share_of_ceiling"] == 0.25
    # latency: p50 8 s then 4 s on either side, beside a 0.5 s floor
    assert result["baseline"]["latency_p50_s"] == 6.0
    assert result["current"]["latency_ratio_to_floor"] == 12.0
    assert result["ratios"]["latency_p50_s"] == 1.0
    assert result["ratios"]["seed_latency_p50_s"] is None  # the original design's leg is not the quick bench's
    assert (result["current"]["merge_lag_p95_s"], result["current"]["live_batch_s"]) == (12.0, 0.9)


def test_quick_json_has_latest_jsons_keys_with_this_checkout_at_the_top_and_both_sides_beside(two_rounds):
    folder, result = two_rounds

    assert set(KEYS) <= set(result)
    assert {key: result[key] for key in KEYS} == result["current"]
    assert set(result["baseline"]) == set(result["ratios"]) == set(KEYS)
    assert result["scale"] == "quick" and result["rounds"] == 2
    assert {"rows_1m", "latency_seconds", "latency_warmup_seconds", "trigger_seconds"} <= set(result["sizes"])
    assert set(result["checkouts"]) == {"baseline", "current"}
    assert f"PYTHONPATH={folder / 'old' / 'src'}" in result["checkouts"]["baseline"]["interpreter"]
    assert result["machine"]["cores"] >= 1 and len(result["machine"]["load_average_at_end"]) == 3
    assert [run["exit"] for run in result["runs"]["latency"]["current"]] == [0, 0]
    md = (folder / "results" / "quick.md").read_text()
    assert "| `ingest_rows_per_s` | 1,500 (1,000 / 2,000) | 3,000 (2,000 / 4,000) | 2.00 |" in md


def test_a_failed_ingest_skips_the_legs_that_read_its_lakehouse_and_leaves_that_round_out(tmp_path):
    baseline, current = new_checkouts(tmp_path)
    (baseline.root / "fail-ingest-2").touch()

    result = run_quick(tmp_path, baseline, current, rounds=2)

    assert [run["exit"] for run in result["runs"]["ingest"]["baseline"]] == [0, 1]
    assert result["runs"]["transform"]["baseline"][1] == {"skipped": "its ingest failed", "exit": None}
    assert [c["child"] for c in calls(tmp_path) if c["checkout"] == "old"].count("transform") == 1
    assert result["per_round"]["baseline"]["transform_rows_per_s"] == [2_000, None]
    assert result["baseline"]["transform_rows_per_s"] == 2_000
    assert result["ratios"]["transform_rows_per_s"] == 3.0  # this checkout's median 6,000 over 2,000
