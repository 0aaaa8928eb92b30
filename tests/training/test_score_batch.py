"""score-batch: a raw export scored through bronze and silver's own checks; bad rows reported, never scored."""

from __future__ import annotations

import csv
import io
import json

import pytest

from leadscore import cli
from leadscore.errors import LeadscoreError
from leadscore.jobs import score_batch
from tests.helpers.lakehouse import load_fixture
from tests.helpers.training import run_job

# fixtures/score_batch_malformed.csv, by line (1 = header): 2 a lead, 3 the same shape with a lead source and tag
# never seen in training, 4 three fields short, 5 an opened quote never closed, 6 visits "seven", 7 and 9 leads,
# 8 line 2 again.
GOOD_LINES = {
    2: "6a3164cb-4b8a-47ae-907f-83fb61ff5b23",
    3: "004f1ff4-b5b7-45bd-8cdf-59f34980d936",
    7: "133f8c7c-cbff-4996-b0b3-5ec102869fa7",
    8: "6a3164cb-4b8a-47ae-907f-83fb61ff5b23",
    9: "6b4125d1-5529-478d-a2c8-a4c391878682",
}


def score_file(config, source, output) -> dict:
    return run_job(score_batch, "--lakehouse", config.lakehouse, "--input", str(source), "--output", str(output))


def test_bad_rows_are_reported_by_line_and_good_ones_scored_in_order(trained_lakehouse, tmp_path):
    config, _ = trained_lakehouse
    output = tmp_path / "out" / "scores.csv"
    result = score_file(config, load_fixture("score_batch_malformed.csv"), output)

    assert (result["scored"], result["rejected"]) == (5, 3)
    reasons = {row["line"]: row["reasons"] for row in result["rejected_rows"]}
    assert list(reasons) == [4, 5, 6]
    assert "row_parsed" in reasons[4] and "expected 37 fields, found 35" in reasons[4]
    assert "row_parsed" in reasons[5] and any("quot" in r for r in reasons[5])
    assert reasons[6] == ["total_visits_is_number"]

    with output.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["prospect_id"] for r in rows] == list(GOOD_LINES.values())
    assert list(rows[0]) == ["prospect_id", "score", "prediction", "priority"]
    for row in rows:
        assert 0.0 < float(row["score"]) < 1.0
        assert row["priority"] in {"hot", "warm", "cold"}
    assert rows[0]["score"] == rows[3]["score"]  # the same lead twice scores the same
    assert [p.name for p in output.parent.iterdir()] == ["scores.csv"]  # one file, no temporary left


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("bad_other_header.csv", "not the lead export's header"),
        ("bad_not_utf8.csv", "not UTF-8"),
        ("bad_empty.csv", "is empty"),
    ],
)
def test_a_bad_file_stops_the_job_with_its_name(trained_lakehouse, tmp_path, fixture, message):
    config, _ = trained_lakehouse
    with pytest.raises(LeadscoreError, match=message):
        score_file(config, load_fixture(fixture), tmp_path / "scores.csv")
    assert not (tmp_path / "scores.csv").exists()


def test_without_a_model_the_job_says_to_train_first(config, tmp_path):
    with pytest.raises(LeadscoreError, match="leadscore train"):
        score_file(config, load_fixture("score_batch_malformed.csv"), tmp_path / "scores.csv")


def test_without_output_the_csv_is_all_of_stdout_and_the_summary_goes_to_stderr(trained_lakehouse, tmp_path, capsys):
    config, _ = trained_lakehouse
    source = load_fixture("score_batch_malformed.csv")
    code = cli.main(["score-batch", "--lakehouse", config.lakehouse, "--input", str(source)])
    out, err = capsys.readouterr()
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["prospect_id"] for r in rows] == list(GOOD_LINES.values())
    assert list(rows[0]) == ["prospect_id", "score", "prediction", "priority"]
    summary = json.loads(err.strip().splitlines()[-1])
    assert (summary["output"], summary["scored"], summary["rejected"]) == ("-", 5, 3)
