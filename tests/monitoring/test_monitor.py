"""leadscore monitor: a generated shift in one feature is flagged, an unshifted sample is not; PSI and bins.

The champion is a small pipeline fitted in the test on generated leads (the reference); the current leads are other
generated leads, as they are or with one feature's distribution moved.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from chispa import assert_df_equality
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.sql import Window
from pyspark.sql import functions as F

from leadscore import cli
from leadscore.ingest import silver
from leadscore.ingest.query import checked_file_rows
from leadscore.monitoring import drift, reference
from leadscore.schema import LABEL
from leadscore.synthetic.generator import generate
from leadscore.training.features import feature_stages
from tests.helpers.lakehouse import config_for

END = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SHIFTED = "total_browsing_time"


@pytest.fixture(scope="module")
def leads(spark, tmp_path_factory):
    """3,000 generated leads through bronze and silver's own code: 2,000 for the reference, 1,000 current."""
    folder = tmp_path_factory.mktemp("monitor_leads")
    generate(rows=3000, seed=11, files=1, out_dir=folder)
    rows = silver.silver_rows(checked_file_rows(spark, str(folder), "utf-8")).localCheckpoint()
    numbered = rows.withColumn("_n", F.row_number().over(Window.orderBy("lead_number")))
    return numbered.where("_n <= 2000").drop("_n"), numbered.where("_n > 2000").drop("_n")


@pytest.fixture(scope="module")
def champion(spark, leads):
    """A small pipeline on the pre-contact features, fitted on the reference leads."""
    reference_leads, _ = leads
    features = config_for(".").feature_sets["pre_contact"]
    labelled = reference_leads.withColumn("label", F.col(LABEL).cast("double"))
    model = Pipeline(stages=[*feature_stages(features), LogisticRegression(maxIter=10)]).fit(labelled)
    return reference.Champion(
        name="lead_scoring", version="7", model=model, threshold=0.5, features=tuple(features),
        training=reference_leads, training_table="<test>", training_version=3,
    )  # fmt: skip


def lakehouse_with(spark, tmp_path_factory, current, name: str):
    """A lakehouse whose silver holds the current leads an hour before END (and old leads outside the window)."""
    config = config_for(tmp_path_factory.mktemp(name) / "lakehouse")
    in_window = current.withColumn("event_ts", F.lit(END - timedelta(hours=1)))
    config.table("silver_leads").save(in_window.write.mode("overwrite"))
    quarantine = spark.createDataFrame(
        [(["total_visits_is_number"], END - timedelta(hours=2))],
        "_failed_expectations array<string>, event_ts timestamp",
    )
    config.table("quarantine").save(quarantine.write.mode("overwrite"))
    return config


def run_monitor(capsys, monkeypatch, config, champion) -> tuple[int, dict]:
    monkeypatch.setattr(reference, "champion", lambda spark, cfg: champion)
    code = cli.main(["monitor", "--lakehouse", config.lakehouse, "--window-end", END.isoformat()])
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_an_unshifted_sample_is_not_flagged(spark, tmp_path_factory, capsys, monkeypatch, leads, champion):
    config = lakehouse_with(spark, tmp_path_factory, leads[1], "unshifted")
    code, result = run_monitor(capsys, monkeypatch, config, champion)
    assert code == 0, result["breaches"]
    assert (result["leads"], result["events"], result["quarantined"]) == (1000, 1000, 1)
    assert result["breaches"] == [] and result["number_of_drifted_columns"] == 0
    assert result["quarantine_rate"] == pytest.approx(1 / 1001)
    assert result["score_psi"] < 0.1
    rows = config.table("drift").read(spark)
    assert rows.where("drift_detected").count() == 0
    psi = {r.column_name: r.drift_score for r in rows.where("stattest_name = 'psi'").collect()}
    assert set(psi) == {*champion.features, "score"} and max(psi.values()) < 0.1


def test_a_shift_in_one_feature_is_flagged_in_table_json_and_exit_status(
    spark, tmp_path_factory, capsys, monkeypatch, leads, champion
):
    moved = leads[1].withColumn(SHIFTED, (F.col(SHIFTED) * 3 + 500).cast("int"))
    config = lakehouse_with(spark, tmp_path_factory, moved, "shifted")
    code, result = run_monitor(capsys, monkeypatch, config, champion)
    assert code == 1
    assert result["drifted_columns"] == [SHIFTED]
    assert {(b["column_name"], b["stattest_name"]) for b in result["breaches"]} >= {(SHIFTED, "psi")}
    assert all(b["column_name"] in (SHIFTED, "score") for b in result["breaches"])
    flagged = config.table("drift").read(spark).where("drift_detected").collect()
    assert {(r.column_name, r.stattest_name) for r in flagged} == {
        (b["column_name"], b["stattest_name"]) for b in result["breaches"]
    }
    row = next(r for r in flagged if r.column_name == SHIFTED)
    assert row.drift_score >= row.stattest_threshold == 0.1
    assert (row.model_id, row.drift_type, row.granularity) == ("lead_scoring/7", "BASELINE", "24 hours")
    assert row.window.end == END.replace(tzinfo=None) and len(row.bin_labels) == len(row.current_distribution)


def test_bins_are_recorded_once_per_model_and_reused(spark, tmp_path_factory, capsys, monkeypatch, leads, champion):
    config = lakehouse_with(spark, tmp_path_factory, leads[1], "baseline")
    run_monitor(capsys, monkeypatch, config, champion)
    first = config.table("drift_baseline").read(spark)
    run_monitor(capsys, monkeypatch, config, champion)
    assert_df_equality(config.table("drift_baseline").read(spark), first, ignore_row_order=True)
    runs = config.table("drift").read(spark).select("run_id").distinct().count()
    assert runs == 2 and first.count() == len(champion.features) + 1


def test_too_few_leads_in_the_window_is_a_breach_of_its_own(
    spark, tmp_path_factory, capsys, monkeypatch, leads, champion
):
    config = lakehouse_with(spark, tmp_path_factory, leads[1].limit(20), "sparse")
    code, result = run_monitor(capsys, monkeypatch, config, champion)
    assert code == 1 and result["leads"] == 20
    assert result["breaches"] == [
        {"column_name": ":table", "stattest_name": "row_count", "drift_score": 20.0, "stattest_threshold": 100.0}
    ]


def test_psi_is_zero_for_equal_distributions_and_floors_empty_bins():
    assert drift.psi([10, 20, 30], [1, 2, 3]) == 0.0
    expected = (0.5 - 0.0001) * math.log(0.5 / 0.0001) + (0.5 - 1.0) * math.log(0.5 / 1.0)  # the empty bin floored
    assert drift.psi([5, 5], [0, 7]) == pytest.approx(expected)
    with pytest.raises(ValueError):
        drift.psi([1, 2], [0, 0])


def test_binned_counts_put_each_value_in_its_bin_and_nulls_apart(spark):
    df = spark.createDataFrame(
        [(1, "a", True), (5, "b", False), (5, "zz", None), (None, None, True), (20, "a", True)],
        "total_visits int, city string, opted_out_call boolean",
    )
    bins = {
        "total_visits": drift.Bins("total_visits", drift.NUMERIC, edges=(2.0, 5.0)),
        "city": drift.Bins("city", drift.CATEGORICAL, categories=("a", "b")),
        "opted_out_call": drift.Bins("opted_out_call", drift.BOOLEAN, categories=("false", "true")),
    }
    assert bins["total_visits"].labels == ["(-inf, 2]", "(2, 5]", "(5, inf]"]
    found = drift.distributions(drift.binned_counts(df, bins), bins)
    assert found["total_visits"] == drift.Distribution((1, 2, 1), 1)
    assert found["city"] == drift.Distribution((2, 1, 1), 1)  # a, b, __other__
    assert found["opted_out_call"] == drift.Distribution((1, 3), 1)


def test_fit_bins_cuts_quantiles_and_keeps_the_frequent_categories(spark):
    df = spark.createDataFrame([(i, "x" if i % 3 else "y") for i in range(1, 101)], "total_visits int, city string")
    bins = drift.fit_bins(df, ["total_visits", "city"], bins=4, max_categories=1)
    assert bins["total_visits"].edges == (25.0, 50.0, 75.0)
    assert bins["city"].categories == ("x",) and bins["city"].labels == ["x", "__other__"]
