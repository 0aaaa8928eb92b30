"""Candidates fitted on the train split, chosen on validation, measured on test.

`--tune` searches each challenger's grid with a TrainValidationSplit inside the train split, so validation stays unseen
until the candidates are compared. The choice is made on validation only; every candidate's test figures are reported
beside it, and the champion is challenged on the same test split (lifecycle.promotion).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pyspark.ml import Estimator, PipelineModel
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.tuning import TrainValidationSplit
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from sklearn import metrics as skm

from leadscore.errors import LeadscoreError
from leadscore.schema import KEY, LABEL
from leadscore.training.candidates import LABEL_COLUMN, SCORES_IN, Candidate
from leadscore.training.evaluation import (
    THRESHOLD_RULE,
    accuracy_threshold,
    binary_metrics,
    importances,
    scores_and_labels,
)
from leadscore.training.features import FEATURES, categorical_slots
from leadscore.training.gold import SPLITS

log = logging.getLogger("leadscore")

TUNING_TRAIN_RATIO = 0.8  # TrainValidationSplit: 80% of the train split fits, 20% scores each grid point


@dataclass(frozen=True)
class Trained:
    model: PipelineModel
    metrics: dict
    test_scores: np.ndarray
    test_labels: np.ndarray
    importances: dict[str, float]  # silver column -> share of the model's importance


def splits_of(gold_df: DataFrame, partitions: int) -> dict[str, DataFrame]:
    """Each split with the double label, in a fixed partitioning and order.

    Spark's tree learners and TrainValidationSplit sample per partition: the same rows in the same partitions make
    a seed reproduce the same model whatever order the table's files were listed in.
    """
    labelled = gold_df.withColumn(LABEL_COLUMN, F.col(LABEL).cast("double"))
    return {
        name: labelled.where(F.col("split") == name).repartition(partitions, KEY).sortWithinPartitions(KEY).cache()
        for name in SPLITS
    }


def told_categories(classifier: Estimator, vectors: DataFrame) -> Estimator:
    """The classifier told which slots of the vector are categories, from the vector's nominal metadata.

    Spark's trees read the metadata themselves but need a bin per category (maxBins); xgboost needs the slot types.
    """
    metadata = vectors.schema[FEATURES].metadata
    slots = categorical_slots(metadata)
    if not slots:
        return classifier
    if classifier.hasParam("maxBins"):
        return classifier.copy(
            {classifier.getParam("maxBins"): max(classifier.getOrDefault("maxBins"), *slots.values())}
        )
    if classifier.hasParam("feature_types"):
        size = metadata["ml_attr"]["num_attrs"]
        return classifier.copy(
            {classifier.getParam("feature_types"): ["c" if i in slots else "q" for i in range(size)]}
        )
    return classifier


def fit(candidate: Candidate, train: DataFrame, tune: bool, seed: int) -> tuple[PipelineModel, dict | None]:
    """The fitted pipeline (feature stages + classifier) and, when tuned, each grid point's inner-validation AUC.

    The feature stages are fitted once on the train split and its vectors cached, so a grid search refits only the
    classifier; the returned PipelineModel still starts from raw silver columns.
    """
    prepared = candidate.features().fit(train)
    vectors = prepared.transform(train).select(FEATURES, LABEL_COLUMN).cache()
    classifier = told_categories(candidate.classifier, vectors)
    try:
        if not (tune and candidate.grid):
            return PipelineModel([*prepared.stages, classifier.fit(vectors)]), None
        search = TrainValidationSplit(
            estimator=classifier,
            estimatorParamMaps=candidate.grid,
            evaluator=BinaryClassificationEvaluator(labelCol=LABEL_COLUMN),
            trainRatio=TUNING_TRAIN_RATIO,
            parallelism=2,
            seed=seed,
        ).fit(vectors)
        tried = [
            {"params": {p.name: v for p, v in point.items()}, "auc": auc}
            for point, auc in zip(candidate.grid, search.validationMetrics, strict=True)
        ]
        return PipelineModel([*prepared.stages, search.bestModel]), {"train_ratio": TUNING_TRAIN_RATIO, "grid": tried}
    finally:
        vectors.unpersist()


def choose(validation_auc: dict[str, float], candidates: Sequence[Candidate], tie_margin: float) -> str:
    """The candidate to keep: the best validation AUC, where AUCs within `tie_margin` of the best are a tie that
    goes to the candidate scoring cheapest (SCORES_IN order), then to the higher AUC.

    A difference smaller than the promotion margin would not make a challenger champion either; it does not pay
    for scoring every micro-batch in Python.
    """
    best = max(validation_auc.values())
    tied = [c for c in candidates if validation_auc[c.name] >= best - tie_margin]
    return min(tied, key=lambda c: (SCORES_IN.index(c.scores_in), -validation_auc[c.name])).name


def train(
    gold_df: DataFrame,
    candidates: Sequence[Candidate],
    *,
    seed: int,
    tune: bool,
    partitions: int,
    tie_margin: float = 0.0,
) -> Trained:
    """Fits every candidate on train, keeps the best on validation (`choose`), cuts on validation, measures on test."""
    started = time.perf_counter()
    parts = splits_of(gold_df, partitions)
    try:
        counts = {
            name: part.agg(F.count(F.lit(1)).alias("rows"), F.count_if(F.col(LABEL)).alias("positives")).first()
            for name, part in parts.items()
        }
        for name, count in counts.items():
            if not 0 < count["positives"] < count["rows"]:
                raise LeadscoreError(
                    f"the {name} split needs leads of both outcomes to train on; it has {count['rows']} leads, "
                    f"{count['positives']} of whom contacted an agent"
                )
        train_df, validation, test = (parts[name] for name in SPLITS)
        fitted: dict[str, tuple[PipelineModel, np.ndarray, np.ndarray]] = {}
        report: dict[str, dict] = {}
        for candidate in candidates:
            log.info("train: fitting %s%s", candidate.name, " with a grid search" if tune and candidate.grid else "")
            begun = time.perf_counter()
            model, tuning = fit(candidate, train_df, tune, seed)
            seconds = time.perf_counter() - begun
            val_scores, val_labels = scores_and_labels(model, validation)
            cut = accuracy_threshold(val_scores, val_labels)
            # Test figures of every candidate are reported, never used: the choice below reads validation only.
            test_scores, test_labels = scores_and_labels(model, test)
            fitted[candidate.name] = (model, test_scores, test_labels)
            report[candidate.name] = {
                "description": candidate.description,
                "columns": list(candidate.columns),
                "params": {p: model.stages[-1].getOrDefault(p) for p in candidate.shown},
                "validation_auc": float(skm.roc_auc_score(val_labels, val_scores)),
                "threshold": cut,
                "validation": binary_metrics(val_scores, val_labels, cut),
                "test": binary_metrics(test_scores, test_labels, cut),
                "tuning": tuning,
                "seconds": round(seconds, 1),
            }
            log.info("train: %s: validation AUC %.4f", candidate.name, report[candidate.name]["validation_auc"])

        chosen = choose({name: r["validation_auc"] for name, r in report.items()}, candidates, tie_margin)
        model, test_scores, test_labels = fitted[chosen]
        weights = importances(model, train_df)
    finally:
        for part in parts.values():
            part.unpersist()
    metrics = {
        "chosen": chosen,
        "threshold": report[chosen]["threshold"],
        "threshold_rule": THRESHOLD_RULE,
        "choice_rule": f"best validation AUC; within {tie_margin} of it, the candidate that scores in the JVM",
        "test": report[chosen]["test"],
        "validation": report[chosen]["validation"],
        "candidates": report,
        "data": {name: count.asDict() for name, count in counts.items()},
        "seed": seed,
        "partitions": partitions,  # the seed reproduces the model only with the training splits in as many partitions
        "tune": tune,
        "training_seconds": round(time.perf_counter() - started, 1),
    }
    log.info("train: chose %s; test AUC %.4f", chosen, metrics["test"]["auc_roc"])
    return Trained(model, metrics, test_scores, test_labels, weights)
