"""The drift reference is found in MLflow: the champion version and the gold.training rows its run recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chispa import assert_df_equality
from pyspark.sql import functions as F

from leadscore import cli
from leadscore.monitoring import reference


def test_the_reference_is_the_champion_and_the_train_rows_of_the_gold_version_its_run_read(spark, trained_lakehouse):
    config, result = trained_lakehouse
    champion = reference.champion(spark, config)
    assert (champion.name, champion.version) == (result["model"], str(result["model_version"]))
    assert champion.model_id == f"lead_scoring_full/{result['model_version']}"
    assert champion.features == config.feature_sets["full"]
    recorded = config.table("gold_training").read(spark, versionAsOf=str(champion.training_version))
    assert_df_equality(champion.training, recorded.where("split = 'train'"), ignore_row_order=True)


def test_monitor_runs_on_the_registered_champion_and_records_its_bins(spark, trained_lakehouse, capsys):
    config, result = trained_lakehouse
    newest = config.table("silver_leads").read(spark).agg(F.max("event_ts")).first()[0].replace(tzinfo=UTC)
    end = (newest + timedelta(seconds=1)).isoformat()
    code = cli.main(["monitor", "--lakehouse", config.lakehouse, "--window-end", end, "--window-hours", "1000000"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == (1 if summary["breaches"] else 0)
    assert summary["model_id"] == f"lead_scoring_full/{result['model_version']}" and summary["leads"] >= 100
    baseline = config.table("drift_baseline").read(spark).where(F.col("model_id") == summary["model_id"])
    training_version = reference.champion(spark, config).training_version
    assert {row.reference_version for row in baseline.collect()} == {training_version}
    assert baseline.count() == len(config.feature_sets["full"]) + 1  # every feature and the score
    assert datetime.fromisoformat(summary["window"]["end"]) > newest
