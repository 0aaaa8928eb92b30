"""`leadscore demo` end to end on a small generated set: history ingested, a model trained, the rest streamed."""

from __future__ import annotations

from leadscore import cli
from leadscore.jobs import demo as demo_job
from tests.conftest import config_for


def test_demo_scores_every_lead_and_shows_queue_history_and_time_travel(spark, tmp_path, capsys):
    lakehouse = tmp_path / "lakehouse"
    argv = ["demo", "--lakehouse", str(lakehouse), "--rows", "800", "--files", "2", "--interval-seconds", "0"]
    args = cli.build_parser().parse_args([*argv, "--seed", "3"])
    result = demo_job.run(args, cli.config_from(args))

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
    out = capsys.readouterr().out
    for title in ("== model lead_scoring_full", "== hot leads", "== gold.lead_scores history", "== time travel: leads"):
        assert title in out
