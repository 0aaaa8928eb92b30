"""Training: candidates, the validation-chosen threshold, the metrics file, reproducibility, the registry."""

from __future__ import annotations

import json

import numpy as np
import pytest
from chispa import assert_approx_df_equality

from leadscore import registry, training
from leadscore.errors import LeadscoreError
from leadscore.schema import KEY
from leadscore.scoring import with_score
from tests.conftest import config_for
from tests.training.conftest import SEED, small_candidates

METRIC_KEYS = {"auc_roc", "pr_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier", "confusion_matrix"}


def test_accuracy_threshold_is_the_best_cut_on_the_given_scores():
    scores = np.array([0.1, 0.2, 0.6, 0.7, 0.3, 0.65])
    labels = np.array([False, False, True, True, False, False])
    assert training.accuracy_threshold(scores, labels) == 0.7  # 5 of 6 right; 0.6 is right on 5 too but lower


def test_metrics_file_holds_every_figure_in_range(trained_lakehouse):
    config, result = trained_lakehouse
    version = result["model_version"]
    assert registry.current_version(config) == version
    folder = registry.model_root(config) / version
    metrics = json.loads((folder / "metrics.json").read_text())

    assert metrics["version"] == version and metrics["feature_set"] == "full"
    assert set(metrics["candidates"]) == {"baseline_rf", "gbt", "logistic_regression"}
    assert metrics["chosen"] in metrics["candidates"]
    test = metrics["test"]
    assert set(test) >= METRIC_KEYS
    for key in ("auc_roc", "pr_auc", "accuracy", "precision", "recall", "f1", "brier"):
        assert 0.0 <= test[key] <= 1.0, key
    assert test["log_loss"] > 0
    assert sum(test["confusion_matrix"].values()) == test["rows"] == metrics["data"]["test"]["rows"]
    assert test["confusion_matrix"]["tp"] + test["confusion_matrix"]["fn"] == test["positives"]
    assert 0.0 <= metrics["threshold"] <= 1.0
    assert sum(d["rows"] for d in metrics["data"].values()) == 300  # every lead of the fixture has a label
    for name, candidate in metrics["candidates"].items():
        assert 0.0 <= candidate["validation_auc"] <= 1.0, name
    assert metrics["seed"] == SEED and metrics["tune"] is False
    assert metrics["provenance"]["git"]["commit"] == "abc123"
    assert metrics["provenance"]["silver_version"] >= 0
    assert result["test"] == test
    for png in ("roc.png", "pr.png", "feature_importance.png"):
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    card = (folder / "MODEL_CARD.md").read_text()
    assert "Feature set: `full`" in card and "`lead_status_tag`" in card and f"{test['auc_roc']:.4f}" in card


def test_tuning_records_each_grid_point(trained):
    for name in ("gbt", "logistic_regression"):
        tuning = trained.metrics["candidates"][name]["tuning"]
        assert len(tuning["grid"]) == 2 and all(0.0 <= point["auc"] <= 1.0 for point in tuning["grid"])
    assert trained.metrics["candidates"]["baseline_rf"]["tuning"] is None


def flat(tree: dict, prefix: str = "") -> dict:
    """Nested metrics as one level of `a.b` keys, so pytest.approx can compare them."""
    items: dict = {}
    for key, value in tree.items():
        items.update(flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return items


def test_same_data_and_seed_give_the_same_metrics_whatever_the_partitioning(gold_sample, trained):
    """Spark's forests and boosting sample per partition; training fixes the partitioning, so this holds.

    Counts are equal exactly; scores up to the order in which Spark adds partial sums (1e-12 apart).
    """
    shuffled = gold_sample.repartition(3).orderBy(KEY, ascending=False)
    columns = config_for(".").feature_sets["full"]
    again = training.train(shuffled, small_candidates(columns, SEED), seed=SEED, tune=True, partitions=4)
    assert again.metrics["chosen"] == trained.metrics["chosen"]
    keys = ("data", "threshold", "test", "validation")
    repeated, first = (flat({k: run.metrics[k] for k in keys}) for run in (again, trained))
    assert repeated == pytest.approx(first, rel=1e-9, abs=1e-12)
    for name, candidate in trained.metrics["candidates"].items():
        assert again.metrics["candidates"][name]["validation_auc"] == pytest.approx(candidate["validation_auc"]), name
        assert again.metrics["candidates"][name]["params"] == candidate["params"], name


def test_published_model_reloads_to_identical_scores(spark, tmp_path, trained, silver_sample):
    config = config_for(tmp_path / "lakehouse")
    first = registry.publish(config, trained, feature_set="full", provenance={"env": "test"})
    second = registry.publish(config, trained, feature_set="full", provenance={"env": "test"})
    assert (first, second, registry.current_version(config)) == ("1", "2", "2")
    model, metrics = registry.load_model(spark, config, first)
    assert metrics["threshold"] == trained.metrics["threshold"]
    before = with_score(trained.model, silver_sample).select(KEY, "score")
    after = with_score(model, silver_sample).select(KEY, "score")
    assert_approx_df_equality(before, after, 1e-12, ignore_row_order=True)


def test_loading_a_missing_version_names_it(spark, config):
    with pytest.raises(LeadscoreError, match="no version 9"):
        registry.load_model(spark, config, "9")
