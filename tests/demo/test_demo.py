"""`leadscore demo` end to end on a small generated set: history ingested, a model trained, the rest streamed; on a
classic session, and over Spark Connect the way a deployed bundle splits the work (the same tables). Both learn with
the tests' tiny candidates (tests/helpers/training.py): the demo's steps are the subject, not its learners."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from leadscore import cli
from leadscore.config import config_from
from leadscore.jobs import demo as demo_job
from leadscore.scoring.live_view import AGENT_FEATURES
from leadscore.training import candidates
from tests.helpers.lakehouse import ROOT, config_for, without_run_stamps
from tests.helpers.processes import connect_client_env
from tests.helpers.training import small_candidates

DEMO_ARGS = ["--rows", "800", "--files", "2", "--interval-seconds", "0", "--seed", "3"]
# The two demos land their files at other times, and the streams may split them into other micro-batches.
LANDING_COLUMNS = ("_file_modification_time", "event_ts", "_ingest_batch_id", "batch_id")
PATH_COLUMNS = ("_source_file", "event_file")


@pytest.fixture(scope="module")
def classic_demo(tmp_path_factory):
    """The demo on this process's classic session: its lakehouse, its result and what it printed."""
    lakehouse = tmp_path_factory.mktemp("classic") / "lakehouse"
    args = cli.build_parser().parse_args(["demo", "--lakehouse", str(lakehouse), *DEMO_ARGS])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), pytest.MonkeyPatch.context() as patch:
        patch.setattr(candidates, "candidates", small_candidates)
        result = demo_job.run(args, config_from(args))
    return lakehouse, result, printed.getvalue()


def test_demo_scores_every_lead_and_shows_queue_history_and_time_travel(spark, classic_demo):
    lakehouse, result, out = classic_demo
    assert result["historical_leads"] == 560  # 70% of the leads are history, the rest is streamed
    assert result["streamed_files"] == 2
    assert 0 < result["follow_ups"] < result["streamed_rows"]
    assert result["streamed_rows"] - result["follow_ups"] == 240
    scores = config_for(lakehouse).table("lead_scores").read(spark)
    assert result["scored_leads"] == scores.select("prospect_id").distinct().count() == 800
    assert result["table_versions"] >= 3  # the table's creation and at least two MERGEs
    assert (result["model"], result["model_version"], result["promotion"]) == ("lead_scoring_full", "1", "promoted")
    versions = scores.select("model_version").distinct().collect()
    assert [r["model_version"] for r in versions] == ["1"]  # every lead scored by the champion
    for title in ("== model lead_scoring_full", "== seconds from a file landing", "== hot leads",
                  "== gold.lead_scores history", "== time travel: leads"):  # fmt: skip
        assert title in out
    assert result["seconds_to_view_max"] is not None  # every streamed file's leads reached the agents' view


def _content(spark, lakehouse, logical):
    """The table without run stamps, its file paths relative to the lakehouse, in a stable order."""
    rows = without_run_stamps(config_for(lakehouse).table(logical).read(spark), *LANDING_COLUMNS)
    rows = rows.select(
        *[F.replace(c, F.lit(str(lakehouse)), F.lit("")).alias(c) if c in PATH_COLUMNS else c for c in rows.columns]
    )
    return rows.orderBy(*rows.columns)


@pytest.mark.slow  # a Spark Connect server, and training and the scores query in classic processes of their own
def test_the_demo_over_spark_connect_runs_as_the_bundle_and_gives_the_same_tables(spark, classic_demo, tmp_path):
    classic_lakehouse, classic_result, _ = classic_demo
    lakehouse = tmp_path / "lakehouse"
    done = subprocess.run(
        [sys.executable, "-m", "tests.helpers.tiny_cli", "demo", "--lakehouse", str(lakehouse), *DEMO_ARGS],
        env=connect_client_env() | {"PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    timed = ("seconds", "table_versions", "seconds_to_view_max")
    assert {k: v for k, v in result.items() if k not in timed} == {
        k: v for k, v in classic_result.items() if k not in timed
    }
    log = done.stderr
    assert "scores: started" in log and "stopping the streams" in log  # the streaming queries' classic process
    assert "Traceback" not in log  # stopped by SIGINT between micro-batches, not interrupted

    for logical in ("bronze_leads", "silver_leads", "quarantine", "duplicates"):
        assert_df_equality(_content(spark, lakehouse, logical), _content(spark, classic_lakehouse, logical))
    scored = ["prospect_id", "lead_number", "score", "prediction", "priority", "model_version", *AGENT_FEATURES]
    over_connect, classic = (
        _content(spark, lake, "lead_scores").select(*scored) for lake in (lakehouse, classic_lakehouse)
    )
    assert over_connect.count() == 800
    assert_approx_df_equality(over_connect, classic, 1e-9)
