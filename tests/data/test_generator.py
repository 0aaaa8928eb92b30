"""The generator writes files like the real export, the same bytes per seed, with a learnable signal."""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import SparkSession
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import OneHotEncoder

from leadscore.cli import main
from leadscore.errors import LeadscoreError
from leadscore.jobs import generate as generate_job
from leadscore.schema import SOURCE_HEADER
from leadscore.synthetic.generator import FIRST_LEAD_NUMBER, generate, generate_chunks, split_rows, write_csv
from tests.helpers.lakehouse import load_fixture

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
AT = {name: i for i, name in enumerate(SOURCE_HEADER)}
NUMERIC = ("TotalVisits", "Total Time Spent on Website", "Page Views Per Visit")


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def leads() -> list[list[str]]:
    return [row for chunk in generate_chunks(20_000, seed=5, chunk_size=7_000) for row in chunk]


def column(rows: list[list[str]], name: str) -> np.ndarray:
    return np.array([row[AT[name]] for row in rows])


def test_still_produces_the_committed_fixture_byte_for_byte(tmp_path):
    (path,) = generate(300, seed=7, files=1, out_dir=tmp_path)
    assert path.read_bytes() == load_fixture("generated_small.csv").read_bytes()


def test_format_is_the_real_exports():
    data = load_fixture("generated_small.csv").read_bytes()
    lines = data.split(b"\r\n")
    assert lines[-1] == b"" and len(lines) == 302
    assert all(line.endswith(b",") and b"\n" not in line for line in lines[:-1])
    rows = read_rows(load_fixture("generated_small.csv"))
    assert rows[0] == [*SOURCE_HEADER, ""]
    assert {len(row) for row in rows} == {38} and {row[-1] for row in rows} == {""}
    assert b',"Banking, Investment And Insurance",' in data  # quoted where a value holds the delimiter


def test_values_look_like_the_exports(leads):
    assert all(UUID4.fullmatch(v) for v in column(leads, "Prospect ID"))
    assert set(column(leads, "Converted")) == {"0", "1"}
    assert all(re.fullmatch(r"\d+", v) for v in column(leads, "TotalVisits") if v)
    assert all(re.fullmatch(r"\d+(\.\d?[1-9])?", v) for v in column(leads, "Page Views Per Visit") if v)
    assert "Select" in set(column(leads, "City")) and "" in set(column(leads, "Tags"))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    def run(seed: int, name: str) -> bytes:
        return (generate(2_500, seed=seed, files=2, out_dir=tmp_path / name)[1]).read_bytes()

    assert run(3, "a") == run(3, "b")
    assert run(3, "a") != run(4, "c")


def test_rows_split_across_files_add_up_with_unique_ids(tmp_path):
    paths = generate(1_003, seed=1, files=4, out_dir=tmp_path)
    assert [p.name for p in paths] == [f"leads-0000{i}.csv" for i in range(1, 5)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in paths]  # no temporary file left
    rows = [row for p in paths for row in read_rows(p)[1:]]
    assert [len(read_rows(p)) - 1 for p in paths] == split_rows(1_003, 4) == [251, 251, 251, 250]
    assert len({row[AT["Prospect ID"]] for row in rows}) == 1_003
    assert [int(row[AT["Lead Number"]]) for row in rows] == list(range(FIRST_LEAD_NUMBER, FIRST_LEAD_NUMBER + 1_003))


def test_a_failed_write_leaves_nothing(tmp_path):
    def broken():
        yield [["x"] * 37]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_csv(tmp_path / "leads.csv", broken())
    assert list(tmp_path.iterdir()) == []


def test_dependencies_of_the_real_export_hold(leads):
    visits, time, views = (column(leads, name) for name in NUMERIC)
    assert set(time[visits == "0"]) == {"0"} and set(views[visits == "0"]) == {"0"}
    assert (views[visits == ""] == "").all() and (visits == "").any()
    known = (visits != "") & (visits != "0")
    assert (views[known].astype(float) <= visits[known].astype(float)).all()
    assert 0.6 < (views[known].astype(float) == visits[known].astype(float)).mean() < 0.8
    asym = np.array([column(leads, c) == "" for c in SOURCE_HEADER if c.startswith("Asymmetrique")])
    assert (asym == asym[0]).all() and 0.4 < asym[0].mean() < 0.5
    for index in ("Asymmetrique Activity Index", "Asymmetrique Profile Index"):
        pairs = set(zip(column(leads, index.replace("Index", "Score")), column(leads, index), strict=True))
        assert len({score for score, _ in pairs}) == len(pairs)  # each score has one index, its band
    assert ("17", "01.High") in pairs and ("12", "03.Low") in pairs


def test_the_signal_is_learnable(leads):
    y = column(leads, "Converted") == "1"
    numbers = np.array([[np.log1p(float(v or 0)) for v in column(leads, name)] for name in NUMERIC]).T
    categories = [c for c in SOURCE_HEADER if c not in ("Prospect ID", "Lead Number", "Converted", *NUMERIC)]
    encoded = OneHotEncoder(handle_unknown="ignore").fit_transform(np.array([column(leads, c) for c in categories]).T)
    x = np.hstack([numbers, encoded.toarray()])
    model = LogisticRegression(max_iter=1_000).fit(x[:15_000], y[:15_000])
    assert roc_auc_score(y[15_000:], model.predict_proba(x[15_000:])[:, 1]) > 0.85
    # the real export's strongest signals, in the same direction
    tags, origin, time = column(leads, "Tags"), column(leads, "Lead Origin"), column(leads, NUMERIC[1]).astype(float)
    assert y[tags == "Closed by Horizzon"].mean() > 0.9 and y[tags == "Ringing"].mean() < 0.1
    assert y[origin == "Lead Add Form"].mean() > 2 * y[origin == "API"].mean()
    assert np.median(time[y]) > 2 * np.median(time[~y])


def test_job_validates_and_needs_no_spark(tmp_path, monkeypatch, capsys):
    def no_spark(*_):
        raise AssertionError("generate must not start Spark")

    monkeypatch.setattr(SparkSession.Builder, "getOrCreate", no_spark)
    assert main(["generate", "--rows", "10", "--files", "3", "--seed", "2", "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["files"] == 3 and result["rows"] == 10 and result["out"] == str(tmp_path)
    assert sum(len(read_rows(p)) - 1 for p in tmp_path.iterdir()) == 10
    for rows, files in ((0, 1), (5, 6), (5, 0)):
        args = argparse.Namespace(rows=rows, files=files, seed=0, out=str(tmp_path))
        with pytest.raises(LeadscoreError, match="--rows|--files"):
            generate_job.run(args, None)
