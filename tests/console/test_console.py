"""The console's pages, run by Streamlit's AppTest against the small lakehouse of conftest.py, read through delta-rs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from leadscore import cli
from leadscore.config import config_from
from leadscore.console import data, launch
from leadscore.console.reader import DeltaLakeReader, WarehouseReader, make_reader
from leadscore.errors import LeadscoreError
from tests.helpers.lakehouse import config_for

APP = str(launch.APP)


def open_page(reader, page: str | None = None, **query) -> AppTest:
    """The app as `leadscore console` runs it (st.navigation), on `page`, with the test's reader."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["reader"] = reader
    at.run()
    assert not at.exception, at.exception
    if page is not None:
        for key, value in query.items():
            at.query_params[key] = value
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, at.exception
    return at


def element_types(node) -> list[str]:
    """The kinds of every element on the page (charts have no accessor of their own in AppTest)."""
    kinds = [getattr(node, "type", "")]
    for child in getattr(node, "children", {}).values():
        kinds += element_types(child)
    return kinds


def cli_json(capsys, config, *argv) -> list[dict]:
    assert cli.main([*argv, "--lakehouse", config.lakehouse, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_queue_lists_the_hot_leads_first_and_never_an_opted_out_one(reader, lakehouse, capsys):
    at = open_page(reader)
    assert at.title[0].value == "Call queue"
    links = at.get("page_link")
    # d, scored hot live since the last MERGE, then a, e, c: b opted out, f's choice is unknown
    assert [link.proto.label for link in links] == ["4", "1", "5", "3"]
    assert [link.proto.query_string for link in links] == ["lead=d", "lead=a", "lead=e", "lead=c"]
    shown = " ".join(str(element.value) for element in at.markdown)
    assert "opted out" in at.caption[0].value and " b " not in f" {shown} "
    queue = cli_json(capsys, lakehouse, "queue", "--top", "50")
    assert [row["lead_number"] for row in queue] == [4, 1, 5, 3]


def test_a_lead_scored_live_shows_its_live_score_now_and_lead_scores_at_a_version(reader, lakehouse, capsys):
    metrics = {metric.label: metric.value for metric in open_page(reader, "lead", lead="d").metric}
    assert (metrics["score"], metrics["priority"]) == ("0.960", "hot")
    (now,) = cli_json(capsys, lakehouse, "scores", "--lead", "d")
    (merged,) = cli_json(capsys, lakehouse, "scores", "--lead", "d", "--version", "3")
    assert (now["score"], merged["score"]) == (0.96, 0.2)


def test_a_lead_shows_its_score_now_and_across_versions_as_the_cli_reads_them(reader, lakehouse, capsys):
    at = open_page(reader, "lead", lead="c")
    assert at.text_input(key="lead_id").value == "c"
    metrics = {metric.label: metric.value for metric in at.metric}
    assert (metrics["score"], metrics["priority"], metrics["calls"]) == ("0.750", "hot", "may call")
    history = at.dataframe[0].value
    assert list(history["version"]) == [1, 2] and list(history["score"]) == [0.55, 0.75]
    assert list(history["change"]) == ["scored", "rescored"]
    for version in (1, 2, 3):
        at.slider(key="as_of").set_value(version).run()
        shown = at.dataframe[1].value.iloc[0]
        (cli_row,) = cli_json(capsys, lakehouse, "scores", "--version", str(version), "--lead", "c")
        assert (shown["score"], shown["priority"]) == (cli_row["score"], cli_row["priority"])
    for row in history.itertuples():  # each listed version: what `leadscore scores --version` says of the lead then
        (cli_row,) = cli_json(capsys, lakehouse, "scores", "--version", str(row.version), "--lead", "3")
        assert (row.score, row.priority) == (cli_row["score"], cli_row["priority"])
    events = at.dataframe[2].value
    assert list(events["moved_score"]) == [True, True, False]  # the late event never moved the score


def test_an_opted_out_lead_says_so_and_an_unknown_one_is_not_found(reader):
    at = open_page(reader, "lead", lead="2")  # b, by lead number
    assert {m.label: m.value for m in at.metric}["calls"] == "opted out"
    at = open_page(reader, "lead", lead="zz")
    assert at.warning[0].value == "No lead zz in lead_scores."
    at = open_page(reader, "lead", lead="x'; DROP")
    assert "is not a prospect ID or a lead number" in at.error[0].value


def test_pipeline_health_shows_batches_latency_accounting_and_quarantine_reasons(reader):
    at = open_page(reader, "pipeline")
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["batches"] == "3" and metrics["leads merged"] == "10"
    # the newest event landed 5 s before the batch started, its MERGE committed after that (the figures' arithmetic:
    # tests/monitoring/test_batches.py)
    assert float(metrics["latency, newest event (last batch)"].removesuffix(" s")) >= 5.0
    assert at.success[0].value == "bronze 8 = silver 4 + quarantine 3 + duplicates 1"
    charts = [kind for kind in element_types(at._tree) if "chart" in kind]
    assert len(charts) == 3, charts  # latency and leads per batch over time, quarantined rows per expectation
    quarantine = next(df.value for df in at.dataframe if "expectation" in df.value.columns)
    assert quarantine.to_dict("records") == [
        {"expectation": "row_parsed", "rows": 2},
        {"expectation": "total_visits_is_number", "rows": 2},
    ]


def test_drift_marks_the_breaches_of_the_latest_run(reader):
    at = open_page(reader, "drift")
    assert "run-2" in at.caption[0].value and "lead_scoring/3" in at.caption[0].value
    assert at.error[0].value == "1 breach(es): total_browsing_time psi 0.420 ≥ 0.1"
    table = at.dataframe[0].value
    assert table.set_index("column_name")["breach"].to_dict() == {"total_browsing_time": "⚠ breach", "total_visits": ""}


def test_the_model_page_shows_champion_and_challenger(reader):
    at = open_page(reader, "model")
    summary = at.dataframe[0].value
    assert summary[["alias", "version", "chosen", "auc_roc"]].values.tolist() == [
        ["champion", "1", "gbt", 0.91],
        ["challenger", "2", "xgboost", 0.93],
    ]
    assert [header.value for header in at.subheader] == ["champion: version 1", "challenger: version 2"]
    assert "`lead_scoring_full`" in at.caption[0].value
    cards = [element.value.strip() for element in at.markdown if "Model card" in str(element.value)]
    assert cards == ["# Model card: `lead_scoring_full` version 1", "# Model card: `lead_scoring_full` version 2"]


def test_pages_of_an_empty_lakehouse_say_what_to_run(tmp_path):
    reader = DeltaLakeReader(config_for(tmp_path / "lakehouse"))
    assert "leadscore stream" in open_page(reader).info[0].value
    assert "gold.lead_scores" in open_page(reader, "pipeline").info[0].value
    assert "leadscore monitor" in open_page(reader, "drift").info[0].value
    assert "leadscore train" in open_page(reader, "model").info[0].value


def test_reader_is_chosen_by_configuration_and_connects_only_when_asked(tmp_path, monkeypatch):
    assert isinstance(make_reader(config_for(tmp_path)), DeltaLakeReader)
    from leadscore.config import load_config

    monkeypatch.delenv(WarehouseReader.WAREHOUSE_ENV, raising=False)
    warehouse = make_reader(load_config("dev"))
    assert isinstance(warehouse, WarehouseReader) and warehouse._connection is None  # nothing done yet
    with pytest.raises(LeadscoreError, match="DATABRICKS_WAREHOUSE_ID"):
        warehouse.query("SELECT 1 FROM {lead_scores}")


def test_warehouse_reader_sends_databricks_sql_for_the_same_questions():
    sent = []

    class Cursor:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def execute(self, text):
            sent.append(text)

        def fetchall_arrow(self):
            import pyarrow as pa

            return pa.table({"n": [1]})

    class Connection:
        def cursor(self):
            return Cursor()

    from leadscore.config import load_config

    reader = WarehouseReader(load_config("prod"), connect=Connection)
    reader.query("SELECT * FROM {lead_scores@4} JOIN {silver_leads} USING (prospect_id)")
    reader.changes("lead_scores", data.lead_filter("c"))
    assert sent == [
        "SELECT * FROM prod.leadscore.gold_lead_scores VERSION AS OF 4 "
        "JOIN prod.leadscore.silver_leads USING (prospect_id)",
        "SELECT * FROM table_changes('prod.leadscore.gold_lead_scores', 0) WHERE prospect_id = 'c'",
    ]


def test_console_settings_come_from_the_bundle_job_parameters():
    class Jobs:
        def get(self, job_id):
            task = type("Task", (), {"python_wheel_task": type("W", (), {"parameters": PARAMETERS})()})()
            return type("Job", (), {"settings": type("S", (), {"tasks": [task]})()})()

    PARAMETERS = ["--env", "prod", "--catalog", "main", "--schema", "sales", "--window-hours", "6"]
    parameters = launch.job_parameters("42", workspace=type("W", (), {"jobs": Jobs()})())
    args = launch.settings_from(parameters)
    config = config_from(args)
    assert (config.env, config.table("lead_scores").location) == ("prod", "main.sales.gold_lead_scores")
    assert launch.app_arguments(args, config) == ["--env=prod", "--catalog=main", "--schema=sales"]
    argv = launch.streamlit_argv(["--env=prod"], 8501)
    assert argv[:3] == ["streamlit", "run", str(launch.APP)] and argv[-2:] == ["--", "--env=prod"]
    assert "--server.port=8501" in argv and "--server.headless=true" in argv


def test_what_the_app_runs_imports_without_spark():
    """The Databricks App installs no pyspark: its command, the app, every page and the readers load without it."""
    probe = (
        "import sys; sys.modules['pyspark'] = None; sys.modules['delta'] = None\n"
        "import leadscore.console.__main__, leadscore.console.data, leadscore.console.models\n"
        "import leadscore.lifecycle.registry, leadscore.lifecycle.tracking\n"
        "from leadscore.console.__main__ import main\n"
        "sys.exit(main(['--help']))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "--settings-job" in done.stdout
