"""Candidates fitted on the train split, chosen on validation, measured on test.

The baseline is the original Random Forest (20 trees of depth 5 on its seven categoricals and three numerics, mean
imputation, one-hot); against it Spark ML's gradient-boosted trees, xgboost's Spark estimator and a logistic
regression on the whole feature set. `--tune` searches each challenger's grid with a TrainValidationSplit inside
the train split, so validation stays unseen until the candidates are compared. The choice is made on validation
only; every candidate's test figures are reported beside it, and the champion is challenged on the same test split
(lifecycle.promotion).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pyspark.ml import Estimator, Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier, LogisticRegression, RandomForestClassifier
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.stat import Summarizer
from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from sklearn import metrics as skm
from xgboost.spark import SparkXGBClassifier

from leadscore.errors import LeadscoreError
from leadscore.features import FEATURES, VISIT_SPLITS, categorical_slots, feature_stages, source_column
from leadscore.gold import SPLITS
from leadscore.schema import KEY, LABEL
from leadscore.scoring import with_score

log = logging.getLogger("leadscore")

LABEL_COLUMN = "label"  # the boolean label as the double Spark ML learns from; only training rows have it
# The original model's inputs: seven categoricals, the three numerics, visits bucketed at its splits.
ORIGINAL_COLUMNS = (
    "lead_capture_channel", "referral_source", "last_action", "final_engagement_action", "city", "country",
    "lead_status_tag", "total_visits", "total_browsing_time", "avg_listings_viewed_per_session",
)  # fmt: skip
ORIGINAL_VISIT_SPLITS = (0.0, 10.0, 20.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0, float("inf"))
THRESHOLD_RULE = "maximises accuracy on the validation split"
# Where a fitted pipeline scores: in the JVM (Spark ML's forests, boosting and logistic regression), or in Python
# through a pandas UDF (xgboost's Spark model): about 1 s more a micro-batch and an order of magnitude fewer rows a
# second (docs/performance.md). A tie on validation AUC goes to the one that scores in the JVM (`choose`).
SCORES_IN = ("jvm", "python")
TUNING_TRAIN_RATIO = 0.8  # TrainValidationSplit: 80% of the train split fits, 20% scores each grid point
CALIBRATION_BINS = 10  # equal-width score bins of the expected calibration error


@dataclass(frozen=True)
class Candidate:
    name: str
    description: str
    columns: tuple[str, ...]
    classifier: Estimator
    shown: tuple[str, ...]  # classifier params the metrics report
    grid: list = field(default_factory=list)  # param maps of `classifier` --tune tries; empty: fitted as declared
    encoding: str = "index"  # features.ENCODINGS: indexed categories for trees, one-hot for linear models
    scores_in: str = "jvm"  # SCORES_IN
    imputation: str = "median"
    visit_splits: tuple[float, ...] = VISIT_SPLITS

    def features(self) -> Pipeline:
        return Pipeline(
            stages=feature_stages(
                self.columns, encoding=self.encoding, imputation=self.imputation, visit_splits=self.visit_splits
            )
        )


def candidates(columns: Sequence[str], seed: int) -> list[Candidate]:
    """The baseline (restricted to the feature set's columns) and the three challengers.

    The challengers' settings and grids come from runs on the real sample's train and validation splits: shallow
    trees and many rounds beat deep trees there, and a step of 0.05 never beat 0.1 in Spark's GBT grid search (so
    the grid leaves it out, halving the search). xgboost is told which slots are categories (`told_categories`) and
    splits them as sets; split as ordered indices they did as well on the real sample's validation split (best of a
    96-point grid: AUC 0.9798 ordered, 0.9794 categorical), and half the columns per tree beat all of them.
    Wider searches of xgboost (random search of depth, rate, rounds, child weight, sampling, regularisation,
    category encodings) and added features moved validation AUC by no more than its noise: README, "Model quality".
    Spark's GBT is the exception among the trees: on one-hot categories its validation AUC on the real sample was
    higher than on indexed ones with categorical metadata at every partitioning and feature set measured (0.9781
    against 0.9755 with `full`, 0.8519 against 0.8468 with `pre_contact`; docs/performance.md), so it keeps them.
    """
    rf = RandomForestClassifier(labelCol=LABEL_COLUMN, numTrees=20, maxDepth=5, seed=seed)
    gbt = GBTClassifier(labelCol=LABEL_COLUMN, maxIter=100, maxDepth=4, stepSize=0.1, subsamplingRate=0.8, seed=seed)
    xgb = SparkXGBClassifier(
        features_col=FEATURES,
        label_col=LABEL_COLUMN,
        num_workers=1,  # one booster on the driver's data: the same partitions give the same model
        n_estimators=200,
        max_depth=3,
        learning_rate=0.1,
        subsample=0.8,
        colsample_bytree=0.5,
        random_state=seed,
        verbose=False,  # no log line per boosting round
    )
    lr = LogisticRegression(labelCol=LABEL_COLUMN, regParam=0.01, elasticNetParam=0.0, maxIter=200)
    return [
        Candidate(
            "baseline_rf",
            "the original Random Forest: 20 trees of depth 5, its 7 categoricals and 3 numerics, mean imputation",
            tuple(c for c in ORIGINAL_COLUMNS if c in columns),
            rf,
            ("numTrees", "maxDepth"),
            encoding="onehot",
            imputation="mean",
            visit_splits=ORIGINAL_VISIT_SPLITS,
        ),
        Candidate(
            "gbt",
            "Spark ML gradient-boosted trees on every column of the feature set, one-hot categories, median imputation",
            tuple(columns),
            gbt,
            ("maxIter", "maxDepth", "stepSize", "subsamplingRate"),
            ParamGridBuilder().addGrid(gbt.maxDepth, [3, 4, 5]).addGrid(gbt.maxIter, [100, 200]).build(),
            encoding="onehot",
        ),
        Candidate(
            "xgboost",
            "xgboost's Spark estimator on every column of the feature set, categories as categories",
            tuple(columns),
            xgb,
            ("n_estimators", "max_depth", "learning_rate", "subsample", "colsample_bytree"),
            ParamGridBuilder().addGrid(xgb.max_depth, [3, 4, 6]).addGrid(xgb.n_estimators, [200, 400]).build(),
            scores_in="python",
        ),
        Candidate(
            "logistic_regression",
            "logistic regression on every column of the feature set, one-hot categories, median imputation",
            tuple(columns),
            lr,
            ("regParam", "elasticNetParam"),
            ParamGridBuilder().addGrid(lr.regParam, [0.001, 0.01, 0.1]).addGrid(lr.elasticNetParam, [0.0, 0.5]).build(),
            encoding="onehot",
        ),
    ]


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
