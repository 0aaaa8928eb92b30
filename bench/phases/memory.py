"""Phases `ingest_10m` and `train_1m`: how much memory the driver tree (Python and its JVM) takes at scale.

`ingest_10m` runs our ingest (phases/ingest.py's child, the same 2 GB heap) on 10M generated rows: its peak RSS,
`peak_rss_mb_10m`, against the 3 GB target (it should be no more than at 1M rows: ingest streams). `train_1m` is
`leadscore train` on the 1M-row lakehouse `ingest_1m` built: its wall time, `train_seconds_1m`, and its peak RSS
(in `phases.train_1m`) against its 4 GB target. Neither has a stack ceiling beside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness import LEADSCORE, child_argv, generated, run_child


def memory_phase(rows: int, work: Path, record) -> None:
    """Our ingest of `rows` generated rows; its lakehouse is removed after (10M rows take GBs of disk)."""
    lake = work / "lake_10m"
    d, w, p, rc = run_child(child_argv("ingest", lakehouse=str(lake), source=str(generated(rows))), "ingest_10m")
    record("ingest_10m", {"ingest_rows_per_s_10m": d and d["rows_per_s"], "peak_rss_mb_10m": p}, d, w, p, rc)
    shutil.rmtree(lake, ignore_errors=True)


def train_1m_phase(lake_1m: Path, record) -> None:
    """`leadscore train` as a user runs it (its own process, the configured heap) on the 1M-row silver table."""
    d, w, p, rc = run_child([str(LEADSCORE), "train", "--lakehouse", str(lake_1m)], "train_1m")
    record("train_1m", {"train_seconds_1m": round(w, 1)}, d, w, p, rc)
