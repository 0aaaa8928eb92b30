"""How a fitted pipeline is measured: scores on a split, the threshold, binary metrics, importances per column."""

from __future__ import annotations

import numpy as np
from pyspark.ml import PipelineModel
from pyspark.ml.functions import vector_to_array
from pyspark.ml.stat import Summarizer
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from sklearn import metrics as skm

from leadscore.schema import LABEL
from leadscore.training.features import FEATURES, source_column

THRESHOLD_RULE = "maximises accuracy on the validation split"
CALIBRATION_BINS = 10  # equal-width score bins of the expected calibration error


def with_score(model: PipelineModel, df: DataFrame) -> DataFrame:
    """The input's columns plus `score`, the probability of contacting an agent; the pipeline's working columns go."""
    probability = vector_to_array(F.col("probability"))[1]
    return model.transform(df).select(*[F.col(f"`{c}`") for c in df.columns], probability.alias("score"))


def scores_and_labels(model: PipelineModel, df: DataFrame) -> tuple[np.ndarray, np.ndarray]:
    rows = with_score(model, df).select("score", LABEL).toPandas()
    return rows["score"].to_numpy(dtype=float), rows[LABEL].to_numpy(dtype=bool)


def accuracy_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score cut (predict yes when score >= cut) with the best accuracy; the highest such cut on a tie."""
    fpr, tpr, thresholds = skm.roc_curve(labels, scores, drop_intermediate=False)
    positives = labels.sum()
    accuracy = (tpr * positives + (1 - fpr) * (len(labels) - positives)) / len(labels)
    best = 1 + int(np.argmax(accuracy[1:]))  # thresholds[0] is +inf: "never yes"
    return float(thresholds[best])


def calibration_error(scores: np.ndarray, labels: np.ndarray) -> float:
    """Expected calibration error: the gap between mean score and contact rate per score bin, weighted by its leads."""
    bins = np.minimum((scores * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    gap = sum(abs(scores[bins == b].mean() - labels[bins == b].mean()) * (bins == b).sum() for b in np.unique(bins))
    return float(gap / len(scores))


def binary_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    predicted = scores >= threshold
    tn, fp, fn, tp = skm.confusion_matrix(labels, predicted, labels=[False, True]).ravel()
    return {
        "rows": len(labels),
        "positives": int(labels.sum()),
        "auc_roc": float(skm.roc_auc_score(labels, scores)),
        "pr_auc": float(skm.average_precision_score(labels, scores)),
        "accuracy": float(skm.accuracy_score(labels, predicted)),
        "precision": float(skm.precision_score(labels, predicted, zero_division=0)),
        "recall": float(skm.recall_score(labels, predicted, zero_division=0)),
        "f1": float(skm.f1_score(labels, predicted, zero_division=0)),
        "log_loss": float(skm.log_loss(labels, scores, labels=[False, True])),
        "brier": float(skm.brier_score_loss(labels, scores)),
        "calibration_error": calibration_error(scores, labels),
        "confusion_matrix": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
    }


def importances(model: PipelineModel, train: DataFrame) -> dict[str, float]:
    """Share of the model's importance per silver column, one-hot slots summed back to their column.

    Spark's trees: impurity importances. xgboost: total gain per slot. Logistic regression: |coefficient| x the
    slot's standard deviation on the train split, so numerics in seconds and one-hot slots compare.
    """
    features = model.transform(train).select(FEATURES)
    attrs = features.schema[FEATURES].metadata["ml_attr"]["attrs"]
    names = {a["idx"]: a["name"] for group in attrs.values() for a in group}
    classifier = model.stages[-1]
    if hasattr(classifier, "featureImportances"):
        weights = classifier.featureImportances.toArray()
    elif hasattr(classifier, "get_feature_importances"):
        gain = classifier.get_feature_importances(importance_type="total_gain")  # {"f<slot>": gain}, used slots only
        weights = np.array([gain.get(f"f{idx}", 0.0) for idx in range(len(names))])
    else:
        std = features.select(Summarizer.std(F.col(FEATURES)).alias("std")).first()["std"].toArray()
        weights = np.abs(classifier.coefficients.toArray()) * std
    per_column: dict[str, float] = {}
    for idx, weight in enumerate(weights):
        column = source_column(names[idx])
        per_column[column] = per_column.get(column, 0.0) + float(weight)
    total = sum(per_column.values()) or 1.0
    return {c: w / total for c, w in sorted(per_column.items(), key=lambda kv: -kv[1])}
