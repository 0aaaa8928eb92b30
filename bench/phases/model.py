"""Phase `model`: the model the scoring phases (transform, drain, latency, flat_cost) use, trained by `leadscore
train` as a user runs it. On the real sample (`../shared/data/leads.csv`) when it is there, its wall time being
`train_seconds_real`; else (or with `--no-real`) on the small generated set, untimed. No ceiling: it provides the
champion, and the training figure at scale is `train_1m`'s (phases/memory.py).

The quick bench takes the same champion from `cached_model`: trained once for what makes it and kept, since a
training takes minutes of a quick run's ten.
"""

from __future__ import annotations

import ast
import hashlib
import shutil
from pathlib import Path

from harness import CACHE, LEADSCORE, ROOT, SEED, child_argv, generated, run_child, say

SAMPLE = ROOT.parent / "shared" / "data" / "leads.csv"
MODELS = CACHE / "models"
# What trains a model: the commands `leadscore ingest` and `leadscore train` run (and the generator, without the
# real sample); the key of a kept model covers every leadscore module they import.
TRAINING = ("leadscore.jobs.ingest", "leadscore.jobs.train")
GENERATOR = "leadscore.synthetic.generator"


def on_real_sample(no_real: bool) -> bool:
    """Whether the champion is trained on the real sample: it is there, and not left out."""
    return SAMPLE.is_file() and not no_real


def _tracking_uri(lake: Path) -> str:
    return f"sqlite:///{lake}/mlflow.db"


def model_phase(work: Path, rows_small: int, no_real: bool, skipped: dict, record) -> str | None:
    """Trains the champion; the tracking store that holds it (for the scoring phases' children), None when the
    training failed. Why the real sample was not used goes into `skipped`, under the key it leaves null."""
    if on_real_sample(no_real):
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
    return _tracking_uri(lake) if rc == 0 else None


def imported_sources(modules: tuple[str, ...]) -> set[Path]:
    """The source files of `modules` and of every leadscore module they import, directly or not, at the top of a
    file or inside a function (and the packages holding them)."""
    src = ROOT / "src"

    def source(module: str) -> Path | None:
        base = src.joinpath(*module.split("."))
        return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)

    found: set[Path] = set()
    pending = list(modules)
    while pending:
        module = pending.pop()
        path = source(module)
        if path is None or path in found:
            continue
        found.add(path)
        pending += [module.rsplit(".", 1)[0]] if "." in module else []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                pending += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                pending += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return found


def training_key(rows_small: int, no_real: bool) -> str:
    """A digest of what the champion is made from: the training code, conf, the pinned packages and the data."""
    real = on_real_sample(no_real)
    files = [
        *sorted(imported_sources(TRAINING if real else (*TRAINING, GENERATOR))),
        *sorted((ROOT / "conf").glob("*.yml")),
        ROOT / "requirements.lock",
    ]
    digest = hashlib.sha256(b"real sample" if real else f"{rows_small} generated rows, seed {SEED}".encode())
    for path in [*files, SAMPLE] if real else files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cached_model(rows_small: int, no_real: bool, skipped: dict, record) -> tuple[str | None, bool]:
    """The model phase's champion from .cache/bench/models, trained there first when no kept model has this
    `training_key` (only the latest is kept, one on the real sample and one on generated leads); (its tracking store
    or None, whether it was trained now)."""
    kind = MODELS / ("real" if on_real_sample(no_real) else "generated")
    folder = kind / training_key(rows_small, no_real)
    if (folder / ".done").is_file():
        lake = next(folder.glob("lake_*"))
        say(f"model: the champion kept in {lake}, trained from the same code, conf and data")
        return _tracking_uri(lake), False
    shutil.rmtree(kind, ignore_errors=True)
    models = model_phase(folder, rows_small, no_real, skipped, record)
    if models:
        (folder / ".done").touch()
    return models, True
