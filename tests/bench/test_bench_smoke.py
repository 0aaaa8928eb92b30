"""`make bench` and `make bench-quick` at a tiny size: every phase and leg runs and the results carry the stable keys
(no timing is checked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEYS = (
    "ingest_rows_per_s", "ingest_rows_per_s_100k", "ingest_rows_per_s_1m", "train_seconds_real", "train_seconds_1m",
    "transform_rows_per_s", "drain_leads_per_s", "update_merge_leads_per_s", "latency_p50_s", "latency_p95_s",
    "latency_max_s", "seed_latency_p50_s", "peak_rss_mb_1m", "peak_rss_mb_10m", "latency_stream_peak_rss_mb", "machine",
)  # fmt: skip


@pytest.mark.bench
def test_bench_runs_at_a_tiny_scale(tmp_path: Path):
    # The 10M-row memory phase and the 1M-row training are left out to keep this short; the real sample too.
    phases = "ingest_small,ingest_1m,model,transform,drain,latency,flat_cost"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--scale", "tiny", "--no-real", "--phases", phases,
         "--out", str(tmp_path / "results"), "--work", str(tmp_path / "work")],
        env={**os.environ, "BENCH_LATENCY_SECONDS": "10"},
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "results" / "latest.json").read_text())
    assert set(KEYS) <= set(result)
    for key in ("ingest_rows_per_s", "transform_rows_per_s", "drain_leads_per_s", "update_merge_leads_per_s",
                "latency_p50_s", "peak_rss_mb_1m", "latency_stream_peak_rss_mb", "ingest_batch_s_small_table",
                "scores_batch_s_small_table", "scores_batch_s_large_table"):  # fmt: skip
        assert result[key] is not None and result[key] > 0, key
    assert result["machine"]["cores"] >= 1
    assert "| `latency_p50_s` |" in (tmp_path / "results" / "latest.md").read_text()


# What the quick bench measures with the stack's ceilings beside it
QUICK_KEYS = (
    "ingest_rows_per_s", "ingest_ceiling_rows_per_s", "ingest_share_of_ceiling", "transform_rows_per_s",
    "drain_leads_per_s", "drain_ceiling_leads_per_s", "drain_share_of_ceiling", "latency_p50_s", "latency_p95_s",
    "merge_lag_p95_s", "live_batch_s", "floor_latency_p50_s", "latency_ratio_to_floor", "ingest_batch_s",
    "scores_batch_s", "latency_stream_peak_rss_mb",
)  # fmt: skip


@pytest.mark.bench
def test_quick_bench_runs_beside_a_baseline_at_a_tiny_size(tmp_path: Path):
    # This checkout as its own baseline: both sides' children run for real, one round each.
    sizes = {"BENCH_ROWS_1M": "2000", "BENCH_ROWS_SMALL": "1000", "BENCH_LATENCY_SECONDS": "10"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "quick.py"), "--no-real", "--baseline", str(ROOT), "--rounds", "1",
         "--out", str(tmp_path / "results"), "--work", str(tmp_path / "work")],
        env={**os.environ, **sizes}, capture_output=True, text=True, timeout=900, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "results" / "quick.json").read_text())
    assert result["sizes"]["rows_1m"] == 2000 and result["rounds"] == 1
    for key in QUICK_KEYS:
        assert result["baseline"][key] > 0 and result["current"][key] > 0 and result["ratios"][key] > 0, key
        assert result[key] == result["current"][key], key
    assert "| `latency_p50_s` |" in (tmp_path / "results" / "quick.md").read_text()
