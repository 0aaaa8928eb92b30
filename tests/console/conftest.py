"""The console tests' lakehouse: lead_scores written as the stream writes it (change data feed and deletion vectors
on, one MERGE per batch), so delta-rs meets what it meets in production, and a score the live query wrote since;
the other tables hold a few rows each."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from leadscore.console.reader import DeltaLakeReader
from leadscore.lifecycle import tracking
from leadscore.lifecycle.registry import CHALLENGER, CHAMPION, model_name
from leadscore.monitoring import batches
from leadscore.monitoring.monitor import DRIFT_SCHEMA
from leadscore.streaming import commit_tags
from leadscore.tables import TABLES
from tests.helpers.lakehouse import config_for
from tests.helpers.lead_scores import BATCHES, SCORE_EVENTS_SCHEMA, T0, build_lead_scores, lead

SILVER_SCHEMA = (
    "prospect_id string, lead_number int, event_ts timestamp, event_seq long, last_action string, total_visits int, "
    "total_browsing_time int, avg_listings_viewed_per_session double, _source_file string, _line_number long"
)


def scoring_batch_tags() -> list[str]:
    """Each MERGE's userMetadata as the scores stream writes it: the (query, batch) tag and the batch's record, its
    newest event landed 5 s before the batch started."""
    now_us = int(time.time() * 1e6)
    tags = []
    for batch_id, rows in enumerate(BATCHES):
        merged = len(rows)
        figures = {
            "events": merged + 1, "oldest_event_us": now_us - 65_000_000, "newest_event_us": now_us - 5_000_000,
            "leads_merged": merged, "score_p10": 0.3, "score_p50": 0.6, "score_p90": 0.9, "hot": 2, "warm": 1,
            "cold": merged - 3,
        }  # fmt: skip
        record = batches.commit_record(figures, ("lead_scoring", "3"), now_us)
        tags.append(commit_tags.tag("q-1", batch_id, {batches.RECORD: record}))
    return tags


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
    build_lead_scores(spark, config, BATCHES, scoring_batch_tags())
    # The live query's score_events: d's newer event, scored hot since the last MERGE (shown by the agents' view), and
    # a's event the second MERGE took (before lead_scores' high-water mark: not read).
    live = [(*lead("d", 4, 0.96, "hot", False, 4), "q-ingest", 4), (*BATCHES[1][0], "q-ingest", 2)]
    config.table("score_events").create_if_missing(spark, spark.createDataFrame([], SCORE_EVENTS_SCHEMA).schema)
    config.table("score_events").save(spark.createDataFrame(live, SCORE_EVENTS_SCHEMA).write.mode("append"))
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
    config.table("drift").save(spark.createDataFrame(drift_rows(), DRIFT_SCHEMA).write)
    register_versions(config, tmp_path_factory.mktemp("runs"), {"gbt": 0.91, "xgboost": 0.93})
    properties = spark.sql(f"DESCRIBE DETAIL {scores.sql_name}").first()["properties"]
    assert TABLES["lead_scores"].table_properties.items() <= properties.items()
    return config


@pytest.fixture(scope="package")
def reader(lakehouse):
    return DeltaLakeReader(lakehouse)
