"""The console tests' lakehouse: lead_scores written as the stream writes it (change data feed and deletion vectors
on, one MERGE per batch), so delta-rs meets what it meets in production; the other tables hold a few rows each."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from leadscore.console.reader import DeltaLakeReader
from leadscore.lifecycle import tracking
from leadscore.lifecycle.registry import CHALLENGER, CHAMPION, model_name
from leadscore.monitoring.monitor import DRIFT_SCHEMA
from leadscore.tables import TABLES
from tests.conftest import config_for
from tests.timetravel.test_timetravel import BATCHES, T0, build_lead_scores

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


def register_versions(config, folder: Path, aucs: dict[str, float]) -> None:
    """Training runs as `leadscore train` records them (params, test metrics, curves, model card) in the lakehouse's
    SQLite store, each registered as a version of conf's model; the first holds `champion`, the last `challenger`."""
    client = tracking.client(config)
    experiment = tracking.experiment_id(client, config)
    name = model_name(config)
    client.create_registered_model(name)
    figure = Figure(figsize=(2, 2))
    figure.subplots().plot([0, 1], [0, 1])
    figure.savefig(folder / "roc.png")
    for number, (chosen, auc) in enumerate(aucs.items(), start=1):
        run = client.create_run(experiment, run_name="train full")
        for key, value in {"feature_set": "full", "chosen": chosen, "gold_training_version": "4"}.items():
            client.log_param(run.info.run_id, key, value)
        for key, value in {"test_auc_roc": auc, "test_pr_auc": 0.8, "test_rows": 100, "threshold": 0.5}.items():
            client.log_metric(run.info.run_id, key, value)
        (folder / "model_card.md").write_text(f"# Model card: `{name}` version {number}\n")
        client.log_artifact(run.info.run_id, str(folder / "roc.png"))
        client.log_artifact(run.info.run_id, str(folder / "model_card.md"))
        client.set_terminated(run.info.run_id)
        client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.set_registered_model_alias(name, CHAMPION, "1")
    client.set_registered_model_alias(name, CHALLENGER, str(len(aucs)))


@pytest.fixture(scope="package")
def lakehouse(spark, tmp_path_factory):
    config = config_for(tmp_path_factory.mktemp("console") / "lakehouse")
    scores = config.table("lead_scores")
    build_lead_scores(spark, config, BATCHES)
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
    register_versions(config, tmp_path_factory.mktemp("runs"), {"gbt": 0.91, "xgboost": 0.93})
    properties = spark.sql(f"DESCRIBE DETAIL {scores.sql_name}").first()["properties"]
    assert TABLES["lead_scores"].table_properties.items() <= properties.items()
    return config


@pytest.fixture(scope="package")
def reader(lakehouse):
    return DeltaLakeReader(lakehouse)
