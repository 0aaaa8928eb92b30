"""Time travel on lead_scores: history, scores as of a version or a time, diffs and the agent queue.

The table is built the way the stream builds it: created with its properties (version 0), then one production
MERGE (`scores_merge.merge`) per micro-batch.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from leadscore import cli
from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.output import render, rows_of
from leadscore.timetravel import QUEUE_COLUMNS, agent_queue, history, read_as_of, score_changes, select_scores
from tests.helpers.lakehouse import config_for
from tests.helpers.lead_scores import BATCHES, LEAD_SCORES_SCHEMA, build_lead_scores, lead, lead_scores_columns


@pytest.fixture(scope="module")
def scores_config(spark, tmp_path_factory) -> Config:
    config = config_for(tmp_path_factory.mktemp("timetravel") / "lakehouse")
    build_lead_scores(spark, config, BATCHES)
    return config


@pytest.fixture(scope="module")
def commit_times(spark, scores_config) -> dict[int, str]:
    return {row["version"]: row["timestamp"] for row in history(spark, scores_config.table("lead_scores"))}


def frame(spark: SparkSession, rows: list[tuple]):
    return spark.createDataFrame(rows, LEAD_SCORES_SCHEMA)


def run_cli(capsys, config: Config, *argv: str) -> tuple[int, str, str]:
    code = cli.main([*argv, "--lakehouse", config.lakehouse])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def last_json(out: str) -> dict:
    last = json.loads(out.strip().splitlines()[-1])
    assert isinstance(last, dict)
    return last


def test_history_lists_each_merge_with_rows_inserted_and_updated(spark, scores_config):
    versions = history(spark, scores_config.table("lead_scores"))
    assert [(v["version"], v["operation"], v["rows_inserted"], v["rows_updated"]) for v in versions] == [
        (3, "MERGE", 1, 1),
        (2, "MERGE", 1, 2),  # d: the same event again, which the MERGE leaves as it is
        (1, "MERGE", 4, 0),
        (0, "CREATE TABLE", 0, 0),
    ]
    assert [v["version"] for v in history(spark, scores_config.table("lead_scores"), limit=2)] == [3, 2]


def test_scores_at_a_version_are_the_table_as_it_was_then(spark, scores_config):
    table = scores_config.table("lead_scores")
    assert_df_equality(read_as_of(spark, table, version=1), frame(spark, BATCHES[0]), ignore_row_order=True)
    latest = {r.prospect_id: r.score for r in read_as_of(spark, table).collect()}
    assert latest == {"a": 0.93, "b": 0.97, "c": 0.75, "d": 0.20, "e": 0.80, "f": 0.99}


def test_scores_at_a_timestamp_are_the_version_committed_by_then(spark, scores_config, commit_times):
    table = scores_config.table("lead_scores")
    assert_df_equality(
        read_as_of(spark, table, timestamp=commit_times[2]),
        read_as_of(spark, table, version=2),
        ignore_row_order=True,
    )


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ({"version": 7}, "lead_scores cannot be read at version 7: it has version 0 (.+) to version 3 (.+)"),
        ({"timestamp": "2001-01-01"}, "cannot be read as of 2001-01-01: it has version 0"),
        ({"timestamp": "yesterday"}, "'yesterday' is not a timestamp"),
    ],
)
def test_a_version_or_time_the_table_does_not_have_names_the_range_it_has(spark, scores_config, as_of, message):
    with pytest.raises(LeadscoreError, match=message):
        read_as_of(spark, scores_config.table("lead_scores"), **as_of)


def test_a_missing_table_is_a_clear_error(spark, tmp_path):
    with pytest.raises(LeadscoreError, match="no lead_scores table at .*: run `leadscore stream` first"):
        history(spark, config_for(tmp_path / "lakehouse").table("lead_scores"))


def test_score_changes_lists_moved_scores_priorities_and_added_and_removed_leads(spark):
    old = frame(spark, BATCHES[0])
    new = frame(spark, [*BATCHES[1][:3], lead("b", 2, 0.95, "hot", True, 1), lead("e", 5, 0.8, "hot", False, 2)])
    expected = spark.createDataFrame(
        [
            ("c", 3, "changed", 0.55, 0.75, "warm", "hot"),
            ("a", 1, "changed", 0.91, 0.93, "hot", "hot"),
            ("e", 5, "added", None, 0.8, None, "hot"),
        ],
        "prospect_id string, lead_number int, change string, old_score double, new_score double, "
        "old_priority string, new_priority string",
    )
    assert_df_equality(score_changes(old, new), expected, ignore_nullable=True)
    removed = score_changes(new, old).where("change = 'removed'").select("prospect_id").collect()
    assert [r.prospect_id for r in removed] == ["e"]


def test_agent_queue_lists_hot_callable_leads_highest_score_first(spark):
    scores = frame(
        spark,
        [
            lead("a", 1, 0.93, "hot", False, 2),
            lead("b", 2, 0.97, "hot", True, 3),  # the best score, but opted out of calls
            lead("c", 3, 0.75, "hot", False, 2),
            lead("d", 4, 0.60, "warm", False, 2),
            lead("e", 5, 0.80, "hot", False, 2),
            lead("f", 6, 0.99, "hot", None, 3),  # unknown preference: not called
        ],
    )
    expected = frame(spark, [lead("a", 1, 0.93, "hot", False, 2), lead("e", 5, 0.80, "hot", False, 2)])
    assert_df_equality(agent_queue(scores, 2), expected.select(*QUEUE_COLUMNS))
    assert [r.prospect_id for r in agent_queue(scores, 10).collect()] == ["a", "e", "c"]


def test_select_scores_ranks_and_finds_one_lead_by_id_or_number(spark):
    scores = frame(spark, BATCHES[0])
    assert [r.prospect_id for r in select_scores(scores, top=3).collect()] == ["b", "a", "c"]
    assert [r.prospect_id for r in select_scores(scores, lead="3").collect()] == ["c"]
    assert [r.lead_number for r in select_scores(scores, lead="d").collect()] == [4]


def test_render_aligns_a_table_and_writes_full_precision_csv():
    rows = [{"id": "a", "score": 0.123456, "hot": True}, {"id": "bb", "score": None, "hot": False}]
    assert render(rows, ("id", "score", "hot"), "table") == (
        "id  score   hot\n--  ------  -----\na   0.1235  true\nbb          false\n"
    )
    assert render(rows, ("id", "score"), "csv") == "id,score\na,0.123456\nbb,\n"
    assert render([], ("id",), "table") == "id\n--\n"


def test_rows_of_shows_timestamps_in_the_session_time_zone(spark):
    assert rows_of(frame(spark, BATCHES[2][:1]).select("prospect_id", "event_ts")) == [
        {"prospect_id": "b", "event_ts": "2025-03-01 09:03:00.000"}
    ]


def test_cli_history_prints_a_table_then_the_summary(capsys, scores_config):
    code, out, _ = run_cli(capsys, scores_config, "history", "--limit", "3")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["version", "timestamp", "operation", "rows_inserted", "rows_updated"]
    assert [line.split()[0] for line in lines[2:5]] == ["3", "2", "1"] and "MERGE" in lines[2]
    assert last_json(out) == {"table": scores_config.table("lead_scores").sql_name, "limit": 3, "count": 3}


def test_cli_scores_as_json_is_one_array_of_rows_and_the_summary_on_stderr(capsys, scores_config):
    code, out, err = run_cli(capsys, scores_config, "scores", "--version", "1", "--format", "json")
    assert code == 0
    rows = json.loads(out)  # the whole of stdout
    assert [r["prospect_id"] for r in rows] == ["b", "a", "c", "d"]
    assert rows[0]["event_ts"] == "2025-03-01 09:01:00.000"
    summary = last_json(err)
    assert summary["version"] == 1 and summary["count"] == 4


def test_cli_scores_as_csv_carries_every_column_and_nothing_else(capsys, scores_config, commit_times):
    code, out, err = run_cli(
        capsys, scores_config, "scores", "--timestamp", commit_times[2], "--top", "2", "--format", "csv"
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))  # the whole of stdout
    assert [(r["prospect_id"], r["score"], r["priority"]) for r in rows] == [("b", "0.95", "hot"), ("a", "0.93", "hot")]
    assert list(rows[0]) == lead_scores_columns()
    assert last_json(err) == {
        "table": scores_config.table("lead_scores").sql_name,
        "version": None,
        "timestamp": commit_times[2],
        "lead": None,
        "top": 2,
        "count": 2,
    }


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize(
    "argv",
    [["scores"], ["queue", "--top", "5"], ["diff", "--from", "1", "--to", "3"], ["history"]],
    ids=["scores", "queue", "diff", "history"],
)
def test_cli_data_on_stdout_is_only_data(capsys, scores_config, argv, fmt):
    """`leadscore <command> --format csv|json > file` writes a file that a CSV or JSON reader takes whole."""
    code, out, err = run_cli(capsys, scores_config, *argv, "--format", fmt)
    assert code == 0
    rows = json.loads(out) if fmt == "json" else list(csv.DictReader(io.StringIO(out)))
    assert isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows)
    assert "{" not in out if fmt == "csv" else out.count("\n") == 1
    assert last_json(err)["count"] == len(rows)


def test_cli_scores_table_shows_one_lead_by_number(capsys, scores_config):
    code, out, _ = run_cli(capsys, scores_config, "scores", "--lead", "3")
    assert code == 0
    header, _, row, summary = out.strip().splitlines()
    assert header.split()[:4] == ["prospect_id", "lead_number", "score", "priority"]
    assert row.split()[:4] == ["c", "3", "0.7500", "hot"]
    assert last_json(summary)["count"] == 1


def test_cli_scores_refuses_a_missing_version_or_lead(capsys, scores_config):
    code, out, err = run_cli(capsys, scores_config, "scores", "--version", "9")
    assert code == 2 and out == ""
    assert "cannot be read at version 9: it has version 0" in err
    code, _, err = run_cli(capsys, scores_config, "scores", "--lead", "zz", "--version", "1")
    assert code == 2 and "no lead zz in lead_scores at version 1" in err


def test_cli_diff_lists_the_changes_between_two_versions(capsys, scores_config):
    code, out, err = run_cli(capsys, scores_config, "diff", "--from", "1", "--to", "2", "--format", "json")
    assert code == 0
    summary = last_json(err)
    assert (summary["added"], summary["changed"], summary["removed"]) == (1, 2, 0)
    assert [(r["prospect_id"], r["change"], r["old_priority"], r["new_priority"]) for r in json.loads(out)] == [
        ("c", "changed", "warm", "hot"),
        ("a", "changed", "hot", "hot"),
        ("e", "added", None, "hot"),
    ]


def test_cli_queue_lists_hot_leads_never_opted_out_ones(capsys, scores_config):
    code, out, _ = run_cli(capsys, scores_config, "queue", "--top", "5")
    assert code == 0
    *table, summary = out.strip().splitlines()
    assert [line.split()[0] for line in table[2:]] == ["a", "e", "c"]
    assert last_json(summary)["count"] == 3
