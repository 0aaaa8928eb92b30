"""`leadscore ingest` under spark-submit: the session comes from spark-submit's flags (Delta jars and catalog), and
the last stdout line is the same JSON the console script prints."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pyspark
import pytest

from leadscore.spark import DELTA_CATALOG, DELTA_EXTENSION, local_jars
from tests.helpers.lakehouse import load_fixture

ROOT = Path(__file__).resolve().parents[2]
SUBMIT = ROOT / "src" / "leadscore" / "jobs" / "submit.py"
SPARK_SUBMIT = Path(pyspark.__file__).parent / "bin" / "spark-submit"


def data_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as file:
        return sum(1 for _ in csv.reader(file)) - 1


@pytest.mark.slow
def test_ingest_runs_under_spark_submit(tmp_path):
    fixture = load_fixture("generated_small.csv")
    jars = local_jars()
    assert all(jar.is_file() for jar in jars), "Delta jars missing: run `make setup`"
    command = [
        SPARK_SUBMIT,
        "--master", "local[2]",
        "--jars", ",".join(map(str, jars)),
        "--conf", f"spark.sql.extensions={DELTA_EXTENSION}",
        "--conf", f"spark.sql.catalog.spark_catalog={DELTA_CATALOG}",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.sql.shuffle.partitions=2",
        SUBMIT, "ingest", "--source", fixture, "--lakehouse", tmp_path / "lakehouse",
    ]  # fmt: skip
    # The driver must be this interpreter: it has leadscore and its dependencies installed.
    env = os.environ | {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    counts = json.loads(run.stdout.strip().splitlines()[-1])
    assert counts["bronze"] == data_rows(fixture)
