"""Phase `model`: the model the scoring phases (transform, drain, latency, flat_cost) use, trained by `leadscore
train` as a user runs it. On the real sample (`../shared/data/leads.csv`) when it is there, its wall time being
`train_seconds_real`; else (or with `--no-real`) on the small generated set, untimed. No ceiling: it provides the
champion, and the training figure at scale is `train_1m`'s (phases/memory.py).
"""

from __future__ import annotations

from pathlib import Path

from harness import LEADSCORE, ROOT, child_argv, generated, run_child

SAMPLE = ROOT.parent / "shared" / "data" / "leads.csv"


def model_phase(work: Path, rows_small: int, no_real: bool, skipped: dict, record) -> str:
    """Trains the champion; the tracking store that holds it (for the scoring phases' children). Why the real sample
    was not used goes into `skipped`, under the key it leaves null."""
    if SAMPLE.is_file() and not no_real:
        lake = work / "lake_real"
        run_child([str(LEADSCORE), "ingest", "--source", str(SAMPLE), "--lakehouse", str(lake)], "ingest real")
        d, w, p, rc = run_child([str(LEADSCORE), "train", "--lakehouse", str(lake)], "train_real")
        record("train_real", {"train_seconds_real": round(w, 1)}, d, w, p, rc)
    else:
        skipped["train_seconds_real"] = "--no-real" if no_real else f"no real sample at {SAMPLE}"
        lake = work / "lake_small"  # ingest_small's lakehouse, when that phase ran
        if not (lake / "silver" / "leads").exists():
            run_child(child_argv("ingest", lakehouse=str(lake), source=str(generated(rows_small))), "ingest")
        d, w, p, rc = run_child([str(LEADSCORE), "train", "--lakehouse", str(lake)], "train_model")
        record("train_model", {}, d, w, p, rc)
    return f"sqlite:///{lake}/mlflow.db"
