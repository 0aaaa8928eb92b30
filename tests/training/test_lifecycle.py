"""The model lifecycle on MLflow: registering, champion and challenger, promotion by hand, reload, bad references.

Each test's tracking store is SQLite in a temporary folder: the store the project uses locally.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyspark
import pytest
from chispa import assert_approx_df_equality
from pyspark.ml import PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import SQLTransformer
from xgboost.spark import SparkXGBClassifierModel

from leadscore import cli
from leadscore.errors import LeadscoreError
from leadscore.lifecycle import tracking
from leadscore.lifecycle.promotion import challenge, promote
from leadscore.lifecycle.publish import _requirements, publish
from leadscore.lifecycle.registry import CHALLENGER, CHAMPION, load, model_name, resolve, version_by_alias
from leadscore.schema import KEY
from leadscore.scoring.serving import AliasedModel
from leadscore.training import candidates, fit
from leadscore.training.evaluation import with_score
from tests.helpers.lakehouse import config_for, load_fixture
from tests.helpers.training import SEED, only

WEAK_COLUMNS = ("city",)  # one column that says little: a model clearly worse than the trained one


@pytest.fixture(scope="module")
def weak(gold_sample):
    """A deliberately poor model: a logistic regression on the lead's city alone."""
    lr = LogisticRegression(labelCol=candidates.LABEL_COLUMN, maxIter=20)
    candidate = candidates.Candidate(
        "logistic_regression", "city only", WEAK_COLUMNS, lr, ("regParam",), encoding="onehot"
    )
    return fit.train(gold_sample, [candidate], seed=SEED, tune=False, partitions=4)


def register(config, trained, gold_sample) -> dict:
    """What `leadscore train` does after fitting: log and register the model, then challenge the champion."""
    client = tracking.client(config)
    table = config.table("gold_training")
    gold_sample_version = table.latest_version(gold_sample.sparkSession)
    published = publish(
        client,
        config,
        trained,
        name=model_name(config),
        feature_set="full",
        gold=table,
        gold_version=gold_sample_version,
        examples=gold_sample.where("split = 'test'"),
        provenance={"env": "test", "git": {"commit": "abc123"}, "silver_version": 0},
    )
    return challenge(client, config, published, gold_sample.where("split = 'test'"))


@pytest.fixture(scope="module")
def store(spark, tmp_path_factory, gold_sample, trained, weak):
    """Three versions registered in order: weak (first: champion), trained (better: champion), weak (worse)."""
    config = config_for(tmp_path_factory.mktemp("store") / "lakehouse")
    config.table("gold_training").save(gold_sample.write.mode("overwrite"))
    decisions = [register(config, model, gold_sample) for model in (weak, trained, weak)]
    return config, decisions


def test_a_published_pipeline_declares_what_loading_it_needs(spark):
    """Spark's own for every pipeline, xgboost's package beside it when a stage is xgboost's. (`spark`: Spark ML's
    stages are made in a running session.)"""
    features = SQLTransformer(statement="SELECT * FROM __THIS__")
    assert _requirements(PipelineModel([features])) == [f"pyspark=={pyspark.__version__}"]
    with_xgboost = _requirements(PipelineModel([features, SparkXGBClassifierModel()]))
    assert with_xgboost[0] == f"pyspark=={pyspark.__version__}" and with_xgboost[1].startswith("xgboost")


def aliases(config) -> dict[str, str | None]:
    client = tracking.client(config)
    found = {alias: version_by_alias(client, model_name(config), alias) for alias in (CHAMPION, CHALLENGER)}
    return {alias: None if v is None else str(v.version) for alias, v in found.items()}


def test_first_version_is_champion_a_better_one_takes_over_a_worse_one_stays_challenger(store):
    config, (first, better, worse) = store
    assert (first["version"], first["decision"], first["reason"]) == ("1", "promoted", "first version of the model")
    assert (better["version"], better["decision"], better["previous_champion"]) == ("2", "promoted", "1")
    assert better["gain"] >= better["margin"] and better["champion"] == pytest.approx(first["challenger"])
    assert (worse["version"], worse["decision"], worse["champion_version"]) == ("3", "kept", "2")
    assert worse["gain"] < 0 and "on the same" in worse["reason"]
    assert aliases(config) == {CHAMPION: "2", CHALLENGER: "3"}
    client = tracking.client(config)
    tags = {v: client.get_model_version(model_name(config), v).tags for v in ("1", "2", "3")}
    assert "champion_until" in tags["1"] and "champion_since" in tags["2"] and "champion_until" not in tags["2"]
    assert tags["2"]["champion_reason"].startswith("test auc_roc")
    assert "challenger_until" in tags["2"]  # a challenger that became champion loses the challenger alias
    assert tags["3"]["challenger_reason"].startswith("trained in run")


def test_reloaded_by_alias_the_champion_scores_exactly_as_the_model_in_memory(store, trained, silver_sample):
    config, _ = store
    client = tracking.client(config)
    champion = load(client, config, resolve(client, model_name(config), alias=CHAMPION))
    assert champion.version == "2" and champion.threshold == trained.metrics["threshold"]
    before = with_score(trained.model, silver_sample).select(KEY, "score")
    after = with_score(champion.model, silver_sample).select(KEY, "score")
    assert_approx_df_equality(before, after, 1e-12, ignore_row_order=True)


def test_aliased_model_follows_the_alias_and_reports_each_change(store):
    config, _ = store
    champion = AliasedModel(config, CHAMPION)
    assert champion.refresh() and champion.version == "2" and champion.name == "lead_scoring_full"
    assert not champion.refresh()  # unchanged: no reload
    challenger = AliasedModel(config, CHALLENGER, required=False)
    assert challenger.refresh() and challenger.version == "3"


def test_promote_by_hand_moves_the_champion_back_and_forth(store, capsys):
    config, _ = store
    argv = ["promote", "--lakehouse", config.lakehouse, "--version", "1", "--reason", "roll back"]
    assert cli.main(argv) == 0
    moved = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (moved["champion"], moved["previous_champion"]) == ("1", "2")
    assert aliases(config) == {CHAMPION: "1", CHALLENGER: "3"}
    client = tracking.client(config)
    assert client.get_model_version(model_name(config), "1").tags["champion_reason"].startswith("roll back")
    assert promote(client, model_name(config), "3", "by hand")["previous_champion"] == "1"
    assert aliases(config) == {CHAMPION: "3", CHALLENGER: None}  # the challenger promoted loses that alias

    assert cli.main(["models", "--lakehouse", config.lakehouse, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)  # with --format json, stdout is only the rows
    assert [(r["version"], r["aliases"]) for r in listed] == [("3", "champion"), ("2", ""), ("1", "")]
    assert all(0.0 <= r["test_auc_roc"] <= 1.0 and r["gold_training_version"] == "0" for r in listed)


@pytest.fixture
def copied_lakehouse(trained_lakehouse, tmp_path):
    """A copy of the trained lakehouse (silver, gold, tracking store), free to change."""
    config, _ = trained_lakehouse
    target = tmp_path / "lakehouse"
    shutil.copytree(config.lakehouse, target)
    return config_for(target)


def leadscore(capsys, *argv: str) -> tuple[int, str, str]:
    """`leadscore <argv>`: exit status, stdout, stderr."""
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--feature-set", "pre_contact"], "model 'lead_scoring_pre_contact' is not registered"),
        (["--version", "9"], "model 'lead_scoring_full' has no version 9"),
        (["--version", "latest"], "a model version is a number, not 'latest'"),
        (["--alias", "nope"], "has no version with the alias 'nope'"),
        (["--feature-set", "nope"], "unknown feature set 'nope'"),
    ],
)
def test_score_batch_names_a_bad_model_reference_and_exits_2(trained_lakehouse, tmp_path, capsys, flags, message):
    config, _ = trained_lakehouse
    output = tmp_path / "scores.csv"
    fixture = str(load_fixture("score_batch_malformed.csv"))
    argv = ["score-batch", "--lakehouse", config.lakehouse, "--input", fixture, "--output", str(output), *flags]
    status, _, err = leadscore(capsys, *argv)
    assert status == 2 and message in err
    assert not output.exists()


def test_without_a_champion_scoring_says_how_to_promote_and_exits_2(copied_lakehouse, tmp_path, capsys):
    config = copied_lakehouse
    tracking.client(config).delete_registered_model_alias(model_name(config), CHAMPION)
    fixture = str(load_fixture("score_batch_malformed.csv"))
    status, _, err = leadscore(
        capsys, "score-batch", "--lakehouse", config.lakehouse, "--input", fixture, "--output", str(tmp_path / "o.csv")
    )
    assert status == 2 and "has no version with the alias 'champion'" in err and "leadscore promote" in err
    with pytest.raises(LeadscoreError, match="alias 'champion'"):
        AliasedModel(config).refresh()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["promote", "--version", "7"], "has no version 7"),
        (["promote", "--version", "1", "--feature-set", "pre_contact"], "is not registered"),
        (["models", "--feature-set", "pre_contact"], "is not registered"),
    ],
)
def test_promote_and_models_name_bad_references_and_exit_2(trained_lakehouse, capsys, argv, message):
    config, _ = trained_lakehouse
    status, _, err = leadscore(capsys, *argv, "--lakehouse", config.lakehouse)
    assert status == 2 and message in err


def test_retrain_skips_when_silver_has_not_changed_and_otherwise_challenges(
    trained_lakehouse, copied_lakehouse, capsys, monkeypatch
):
    config = copied_lakehouse
    status, out, _ = leadscore(capsys, "retrain", "--lakehouse", config.lakehouse)
    skipped = json.loads(out.strip().splitlines()[-1])
    assert status == 0 and (skipped["decision"], skipped["champion_version"]) == ("skipped", "1")

    _, first = trained_lakehouse
    monkeypatch.setattr(candidates, "candidates", only(first["chosen"]))  # version 1's learner, fitted once
    status, out, _ = leadscore(capsys, "retrain", "--lakehouse", config.lakehouse, "--force", "--seed", str(SEED))
    decision = json.loads(out.strip().splitlines()[-1])
    assert status == 0
    # The same learner on the same data with the same seed gives the same model: no gain, so it stays the challenger.
    assert (decision["decision"], decision["version"], decision["gain"]) == ("kept", "2", pytest.approx(0.0, abs=1e-12))
    assert aliases(config) == {CHAMPION: "1", CHALLENGER: "2"}
    assert Path(config.lakehouse, "mlflow.db").is_file()
