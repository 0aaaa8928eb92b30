"""Training: candidates, the validation-chosen threshold, calibration, reproducibility, the `leadscore train` run."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pyspark
import pytest
from mlflow.artifacts import load_dict, load_text

from leadscore import cli
from leadscore import spark as spark_module
from leadscore.jobs import retrain as retrain_job
from leadscore.jobs import train as train_job
from leadscore.lifecycle import tracking
from leadscore.lifecycle.registry import CHAMPION, model_name
from leadscore.schema import KEY
from leadscore.spark import local_settings
from leadscore.training import candidates, evaluation, fit
from tests.helpers.lakehouse import config_for
from tests.helpers.training import SEED, small_candidates

CANDIDATES = {"baseline_rf", "gbt", "xgboost", "logistic_regression"}
RATIOS = ("auc_roc", "pr_auc", "accuracy", "precision", "recall", "f1", "brier", "calibration_error")
PLOTS = ("roc.png", "pr.png", "calibration.png", "feature_importance.png")


@pytest.mark.parametrize(
    ("validation_auc", "tie_margin", "chosen"),
    [
        # xgboost wins by less than the margin: a tie, which goes to the best of those that score in the JVM
        ({"baseline_rf": 0.95, "gbt": 0.9729, "xgboost": 0.9781, "logistic_regression": 0.9769}, 0.002,
         "logistic_regression"),
        # by more than the margin: it stays the choice
        ({"baseline_rf": 0.95, "gbt": 0.9729, "xgboost": 0.9781, "logistic_regression": 0.9700}, 0.002, "xgboost"),
        # no margin: the best validation AUC, whoever scores it
        ({"baseline_rf": 0.95, "gbt": 0.9779, "xgboost": 0.9781, "logistic_regression": 0.9769}, 0.0, "xgboost"),
        # a JVM candidate that is best is chosen whatever the margin
        ({"baseline_rf": 0.95, "gbt": 0.9790, "xgboost": 0.9781, "logistic_regression": 0.9769}, 0.002, "gbt"),
    ],
)  # fmt: skip
def test_a_validation_tie_goes_to_a_candidate_that_scores_in_the_jvm(spark, validation_auc, tie_margin, chosen):
    """(`spark`: Spark ML's estimators are made in a running session.)"""
    declared = candidates.candidates(config_for(".").feature_sets["full"], SEED)
    assert {c.name: c.scores_in for c in declared}["xgboost"] == "python"
    assert fit.choose(validation_auc, declared, tie_margin) == chosen


def test_accuracy_threshold_is_the_best_cut_on_the_given_scores():
    scores = np.array([0.1, 0.2, 0.6, 0.7, 0.3, 0.65])
    labels = np.array([False, False, True, True, False, False])
    assert evaluation.accuracy_threshold(scores, labels) == 0.7  # 5 of 6 right; 0.6 is right on 5 too but lower


def test_calibration_error_is_the_weighted_gap_per_score_bin():
    scores = np.array([0.05, 0.05, 0.95, 0.95, 0.55])
    labels = np.array([False, True, True, True, True])
    # bins: 0.0-0.1 mean score 0.05 vs rate 0.5 (2 leads); 0.9-1.0 0.95 vs 1.0 (2); 0.5-0.6 0.55 vs 1.0 (1)
    assert evaluation.calibration_error(scores, labels) == pytest.approx((0.45 * 2 + 0.05 * 2 + 0.45) / 5)


def test_the_training_run_holds_params_metrics_data_version_artifacts_and_a_signed_model(spark, trained_lakehouse):
    config, result = trained_lakehouse
    client = tracking.client(config)
    name = model_name(config)
    version = client.get_model_version(name, result["model_version"])
    assert (name, str(version.version), version.aliases) == ("lead_scoring_full", "1", [CHAMPION])  # first: champion
    assert result["promotion"]["decision"] == "promoted"
    run = client.get_run(version.run_id)
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags

    gold_version = config.table("gold_training").latest_version(spark)
    assert params["gold_training_version"] == str(gold_version) == str(result["gold_training_version"])
    assert params["gold_training_table"] == config.table("gold_training").location
    assert (params["feature_set"], params["seed"], params["split"]) == ("full", str(SEED), "70/15/15")
    # The training splits' partitioning is training's own (model.partitions), not the streams' shuffle partitions.
    assert config.model.partitions != config.spark.shuffle_partitions  # else this could not tell them apart
    assert params["partitions"] == str(config.model.partitions)
    assert params["chosen"] in CANDIDATES and params["chosen"] == result["chosen"]
    assert tags["mlflow.source.git.commit"] == "abc123" and tags["promotion"] == "promoted"
    for split in ("validation", "test"):
        for key in RATIOS:
            assert 0.0 <= metrics[f"{split}_{key}"] <= 1.0, (split, key)
        assert metrics[f"{split}_tp"] + metrics[f"{split}_fn"] == metrics[f"{split}_positives"]
    assert metrics["test_auc_roc"] == pytest.approx(result["test"]["auc_roc"])
    assert metrics["threshold"] == pytest.approx(result["threshold"])
    (dataset,) = run.inputs.dataset_inputs
    source = json.loads(dataset.dataset.source)
    assert dataset.dataset.name == "gold_training" and source["path"] == config.table("gold_training").location
    assert str(source["delta_table_version"]) == str(gold_version)

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {*PLOTS, "model_card.md", "metrics.json", "promotion.json"} <= artifacts
    for png in PLOTS:
        assert Path(client.download_artifacts(run.info.run_id, png)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    full = load_dict(f"runs:/{run.info.run_id}/metrics.json")
    assert sum(d["rows"] for d in full["data"].values()) == 300  # every lead of the fixture has a label
    assert sum(full["test"]["confusion_matrix"].values()) == full["test"]["rows"]
    assert full["provenance"]["silver_version"] >= 0 and full["provenance"]["run_id"] == run.info.run_id
    card = load_text(f"runs:/{run.info.run_id}/model_card.md")
    assert "Feature set: `full`" in card and "`lead_status_tag`" in card and f"{metrics['test_auc_roc']:.4f}" in card
    assert f"Delta version {gold_version}" in card and "`pre_contact`" in card  # what each feature set is for
    assert f"seed {SEED} over {config.model.partitions} partitions" in card

    nested = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    assert {r.info.run_name for r in nested} == CANDIDATES
    assert [r.info.run_name for r in nested if r.data.tags["chosen"] == "true"] == [params["chosen"]]
    for candidate in nested:
        assert 0.0 <= candidate.data.metrics["validation_auc_roc"] <= 1.0
        assert "test_auc_roc" in candidate.data.metrics and "threshold" in candidate.data.metrics

    requirements = Path(mlflow.pyfunc.get_model_dependencies(f"models:/{name}/1")).read_text().split()
    assert {f"mlflow=={mlflow.__version__}", f"pyspark=={pyspark.__version__}"} <= set(requirements)
    info = mlflow.models.get_model_info(f"models:/{name}/1")
    assert info.signature.inputs.input_names() == list(config.feature_sets["full"])
    assert info.signature.outputs.input_names() == ["score"]
    assert info.saved_input_example_info is not None


def flat(tree: dict, prefix: str = "") -> dict:
    """Nested metrics as one level of `a.b` keys, so pytest.approx can compare them."""
    items: dict = {}
    for key, value in tree.items():
        items.update(flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return items


def shuffled(gold_sample):
    """The same rows in other partitions and another order."""
    return gold_sample.repartition(3).orderBy(KEY, ascending=False)


def test_same_data_and_seed_give_the_same_metrics_whatever_the_partitioning(gold_sample, trained_lakehouse, trained):
    """Spark's forests and boosting and xgboost sample per partition; training fixes the partitioning, so this holds:
    the run's training (`leadscore train`, on gold.training as written) fitted again on the same rows shuffled.

    Counts are equal exactly; scores up to the order in which Spark adds partial sums (1e-12 apart).
    """
    config, _ = trained_lakehouse
    again = fit.train(
        shuffled(gold_sample),
        small_candidates(config.feature_sets["full"], SEED),
        seed=SEED,
        tune=False,
        partitions=config.model.partitions,
        tie_margin=config.model.promotion["margin"],
    )
    assert again.metrics["chosen"] == trained.metrics["chosen"]
    keys = ("data", "threshold", "test", "validation")
    repeated, first = (flat({k: run.metrics[k] for k in keys}) for run in (again, trained))
    assert repeated == pytest.approx(first, rel=1e-9, abs=1e-12)
    for name, candidate in trained.metrics["candidates"].items():
        assert again.metrics["candidates"][name]["validation_auc"] == pytest.approx(candidate["validation_auc"]), name
        assert again.metrics["candidates"][name]["params"] == candidate["params"], name


def test_tuning_records_each_grid_point_and_searches_the_same_split_whatever_the_partitioning(gold_sample):
    """The one tuned training of the suite: each challenger's two-point grid searched, every point recorded. The
    search's own split of the train rows is drawn per partition too: the deterministic logistic regression, tuned
    again on the rows shuffled, scores every grid point the same."""
    columns = config_for(".").feature_sets["full"]
    tuned = fit.train(gold_sample, small_candidates(columns, SEED), seed=SEED, tune=True, partitions=4)
    for name in ("gbt", "xgboost", "logistic_regression"):
        tuning = tuned.metrics["candidates"][name]["tuning"]
        assert len(tuning["grid"]) == 2 and all(0.0 <= point["auc"] <= 1.0 for point in tuning["grid"])
    assert tuned.metrics["candidates"]["baseline_rf"]["tuning"] is None

    logistic = [c for c in small_candidates(columns, SEED) if c.name == "logistic_regression"]
    again = fit.train(shuffled(gold_sample), logistic, seed=SEED, tune=True, partitions=4)
    grid = again.metrics["candidates"]["logistic_regression"]["tuning"]["grid"]
    expected = tuned.metrics["candidates"]["logistic_regression"]["tuning"]["grid"]
    assert [point["auc"] for point in grid] == pytest.approx([point["auc"] for point in expected], rel=1e-9)


def test_the_chosen_model_beats_the_baseline_and_its_threshold_is_the_best_cut_on_validation(gold_sample, trained):
    """Better than the original project's forest on its own columns, on test rows neither the fit nor the choice
    saw; and the decision threshold is the accuracy-best cut of the validation rows, not of the test rows."""
    candidates = trained.metrics["candidates"]
    assert trained.metrics["test"]["auc_roc"] > candidates["baseline_rf"]["test"]["auc_roc"]
    validation = fit.splits_of(gold_sample, 4)["validation"]
    scores, labels = evaluation.scores_and_labels(trained.model, validation)
    assert trained.metrics["threshold"] == evaluation.accuracy_threshold(scores, labels)


@pytest.mark.parametrize("job", [train_job, retrain_job], ids=["train", "retrain"])
def test_training_jobs_ask_for_the_training_heap_and_stop_with_2_without_silver(tmp_path, job, monkeypatch, capsys):
    """Spark ML's fits grow the JVM past its heap, so `train` and `retrain` ask for a session whose JVM starts with
    model.driver_memory (that a local session's JVM gets that heap is checked on a running `leadscore stream`, in
    tests/scoring/test_stream.py)."""
    config = config_for(tmp_path)
    assert config.model.driver_memory != config.spark.driver_memory  # else this test could not tell them apart
    asked = []

    def get_spark(settings, *args, **kwargs):
        asked.append(local_settings(settings)["spark.driver.memory"])
        return spark_module.get_spark(settings, *args, **kwargs)

    monkeypatch.setattr(job, "get_spark", get_spark)
    command = job.__name__.rsplit(".", 1)[1]
    assert cli.main([command, "--lakehouse", config.lakehouse]) == 2
    assert "no silver table" in capsys.readouterr().err
    assert asked == [config.model.driver_memory]
