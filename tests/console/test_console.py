"""The console's pages, run by Streamlit's AppTest against a small lakehouse built here, read through delta-rs.

lead_scores is written as the stream writes it (change data feed and deletion vectors on, one MERGE per batch), so
the deltalake reader meets what it meets in production; the other tables hold a few rows each.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from matplotlib.figure import Figure
from streamlit.testing.v1 import AppTest

from leadscore import cli
from leadscore.console import data, launch
from leadscore.console.reader import DeltaLakeReader, WarehouseReader, make_reader
from leadscore.errors import LeadscoreError
from leadscore.monitoring.monitor import DRIFT_SCHEMA
from leadscore.scores import TABLE_PROPERTIES
from tests.conftest import config_for
from tests.timetravel.test_timetravel import BATCHES, LEAD_SCORES_SCHEMA, T0, merge_batch

APP = str(launch.APP)
# gold.scoring_batches as the scores stream writes it (/work/notes/scoring-batches.md).
SCORING_BATCHES_SCHEMA = (
    "query_id string, batch_id long, committed_at timestamp, lead_scores_version long, events long, "
    "leads_merged long, leads_inserted long, leads_updated long, oldest_event_ts timestamp, newest_event_ts timestamp, "
    "latency_oldest_s double, latency_newest_s double, model_name string, model_version string, score_p10 double, "
    "score_p50 double, score_p90 double, hot long, warm long, cold long, batch_seconds double"
)
SILVER_SCHEMA = (
    "prospect_id string, lead_number int, event_ts timestamp, event_seq long, last_action string, total_visits int, "
    "total_browsing_time int, avg_listings_viewed_per_session double, _source_file string, _line_number long"
)


def scoring_batch_rows(versions: list[int]) -> list[tuple]:
    """One row per MERGE version, in the stream's schema."""
    rows = []
    for batch_id, version in enumerate(versions):
        committed = T0 + timedelta(minutes=batch_id + 1, seconds=5)
        oldest, newest = T0 + timedelta(minutes=batch_id), T0 + timedelta(minutes=batch_id + 1)
        merged = len(BATCHES[batch_id])
        rows.append(
            ("q-1", batch_id, committed, version, merged + 1, merged, merged - 1, 1, oldest, newest,
             (committed - oldest).total_seconds(), (committed - newest).total_seconds(), "lead_scoring", "3",
             0.3, 0.6, 0.9, 2, 1, merged - 3, 1.5)
        )  # fmt: skip
    return rows


def drift_rows() -> list[dict]:
    window = {"start": T0 - timedelta(hours=24), "end": T0}
    common = {"window": window, "granularity": "24 hours", "model_id": "lead_scoring/3", "drift_type": "BASELINE",
              "run_id": "run-2", "computed_at": T0, "reference_value": None, "current_value": None,
              "reference_rows": 1000, "current_rows": 400}  # fmt: skip
    labels, reference = ["(-inf, 10]", "(10, inf]"], [0.5, 0.5]
    return [
        {**common, "column_name": "total_browsing_time", "column_type": "numeric", "stattest_name": "psi",
         "stattest_threshold": 0.1, "drift_score": 0.42, "drift_detected": True, "bin_labels": labels,
         "reference_distribution": reference, "current_distribution": [0.1, 0.9]},
        {**common, "column_name": "total_visits", "column_type": "numeric", "stattest_name": "psi",
         "stattest_threshold": 0.1, "drift_score": 0.01, "drift_detected": False, "bin_labels": labels,
         "reference_distribution": reference, "current_distribution": [0.48, 0.52]},
        {**common, "run_id": "run-1", "computed_at": T0 - timedelta(days=1), "column_name": "total_visits",
         "column_type": "numeric", "stattest_name": "psi", "stattest_threshold": 0.1, "drift_score": 0.02,
         "drift_detected": False, "bin_labels": labels, "reference_distribution": reference,
         "current_distribution": reference},
    ]  # fmt: skip


def publish_model(root, version: str, auc: float) -> None:
    folder = root / version
    folder.mkdir(parents=True)
    test = {"rows": 100, "positives": 40, "auc_roc": auc, "pr_auc": 0.8, "accuracy": 0.85, "precision": 0.8,
            "recall": 0.7, "f1": 0.75, "log_loss": 0.4, "brier": 0.12}  # fmt: skip
    metrics = {
        "version": version,
        "chosen": "gbt",
        "feature_set": "full",
        "created_at": "2025-03-01T09:00:00",
        "test": test,
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "MODEL_CARD.md").write_text(f"# Model card: `lead_scoring` version {version}\n")
    figure = Figure(figsize=(2, 2))
    figure.subplots().plot([0, 1], [0, 1])
    figure.savefig(folder / "roc.png")


@pytest.fixture(scope="module")
def lakehouse(spark, tmp_path_factory):
    config = config_for(tmp_path_factory.mktemp("console") / "lakehouse")
    scores = config.table("lead_scores")
    schema = spark.createDataFrame([], LEAD_SCORES_SCHEMA).schema
    scores.create_if_missing(spark, schema, TABLE_PROPERTIES)
    for rows in BATCHES:
        merge_batch(spark, scores.location, rows)
    # lead c: its two scored events, and a late one (older than the stored event) that never moved its score
    events = [
        ("c", 3, T0 + timedelta(minutes=1), 3, "Email Opened", 3, 100, 1.5, "f1.csv", 4),
        ("c", 3, T0 + timedelta(minutes=2), 3, "Email Opened", 4, 200, 2.0, "f2.csv", 4),
        ("c", 3, T0, 9, "Page Visited", 1, 10, 1.0, "f0.csv", 10),
        ("a", 1, T0 + timedelta(minutes=1), 1, "Email Opened", 3, 100, 1.5, "f1.csv", 2),
    ]
    config.table("silver_leads").save(spark.createDataFrame(events, SILVER_SCHEMA).write)
    quarantine = [(["total_visits_is_number"],), (["total_visits_is_number", "row_parsed"],), (["row_parsed"],)]
    config.table("quarantine").save(spark.createDataFrame(quarantine, "_failed_expectations array<string>").write)
    config.table("duplicates").save(spark.createDataFrame([("h",)], "_row_hash string").write)
    config.table("bronze_leads").save(spark.range(8).selectExpr("string(id) AS _row_hash").write)
    versions = [1, 2, 3]
    config.table("scoring_batches").save(
        spark.createDataFrame(scoring_batch_rows(versions), SCORING_BATCHES_SCHEMA).write
    )
    config.table("drift").save(spark.createDataFrame(drift_rows(), DRIFT_SCHEMA).write)
    models = Path(config.models) / config.model.name
    publish_model(models, "2", 0.91)
    publish_model(models, "3", 0.93)
    (models / "CURRENT").write_text("2")
    assert DeltaTable.forPath(spark, scores.location).detail().first()["properties"] == TABLE_PROPERTIES
    return config


@pytest.fixture(scope="module")
def reader(lakehouse):
    return DeltaLakeReader(lakehouse)


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


def cli_json(capsys, config, *argv) -> list[dict]:
    assert cli.main([*argv, "--lakehouse", config.lakehouse, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_queue_lists_the_hot_leads_first_and_never_an_opted_out_one(reader, lakehouse, capsys):
    at = open_page(reader)
    assert at.title[0].value == "Call queue"
    links = at.get("page_link")
    assert [link.proto.label for link in links] == ["1", "5", "3"]  # a, e, c: b opted out, f's choice is unknown
    assert [link.proto.query_string for link in links] == ["lead=a", "lead=e", "lead=c"]
    shown = " ".join(str(element.value) for element in at.markdown)
    assert "opted out" in at.caption[0].value and " b " not in f" {shown} "
    queue = cli_json(capsys, lakehouse, "queue", "--top", "50")
    assert [row["lead_number"] for row in queue] == [1, 5, 3]


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
    assert metrics["latency, newest event (last batch)"] == "5.0 s"
    assert at.success[0].value == "bronze 8 = silver 4 + quarantine 3 + duplicates 1"
    charts = [element for element in at.get("arrow_vega_lite_chart")]
    assert len(charts) >= 2  # latency over time and leads per batch
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
    assert summary[["alias", "version", "auc_roc"]].values.tolist() == [
        ["champion", "2", 0.91],
        ["challenger", "3", 0.93],
    ]
    assert [header.value for header in at.subheader] == ["champion: version 2", "challenger: version 3"]


def test_pages_of_an_empty_lakehouse_say_what_to_run(tmp_path):
    reader = DeltaLakeReader(config_for(tmp_path / "lakehouse"))
    assert "leadscore stream" in open_page(reader).info[0].value
    assert "gold.scoring_batches" in open_page(reader, "pipeline").info[0].value
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
    config = cli.config_from(args)
    assert (config.env, config.table("lead_scores").location) == ("prod", "main.sales.gold_lead_scores")
    assert launch.app_arguments(args, config) == ["--env=prod", "--catalog=main", "--schema=sales"]
    argv = launch.streamlit_argv(["--env=prod"], 8501)
    assert argv[:3] == ["streamlit", "run", str(launch.APP)] and argv[-2:] == ["--", "--env=prod"]
    assert "--server.port=8501" in argv and "--server.headless=true" in argv
