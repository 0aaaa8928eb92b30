"""The console tests' lakehouse: lead_scores written as the stream writes it (change data feed and deletion vectors
on, one MERGE per batch), so delta-rs meets what it meets in production; the other tables hold a few rows each."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from matplotlib.figure import Figure

from leadscore.console.reader import DeltaLakeReader
from leadscore.monitoring.monitor import DRIFT_SCHEMA
from leadscore.scores import TABLE_PROPERTIES
from tests.conftest import config_for
from tests.timetravel.test_timetravel import BATCHES, LEAD_SCORES_SCHEMA, T0, merge_batch

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


@pytest.fixture(scope="package")
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


@pytest.fixture(scope="package")
def reader(lakehouse):
    return DeltaLakeReader(lakehouse)
