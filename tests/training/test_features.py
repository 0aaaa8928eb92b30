"""Feature stages and scoring: everything from raw silver columns happens inside the pipeline."""

from __future__ import annotations

from pyspark.ml import Pipeline
from pyspark.ml.classification import GBTClassifier, LogisticRegression
from pyspark.sql import functions as F

from leadscore.schema import BY_NAME, KEY
from leadscore.scoring.model import score
from leadscore.training import candidates, features, fit
from tests.helpers.lakehouse import config_for

PRIORITY = {"hot": 0.7, "warm": 0.4}


def fitted(gold_sample, columns):
    stages = features.feature_stages(columns)
    classifier = LogisticRegression(labelCol=candidates.LABEL_COLUMN, regParam=0.01, maxIter=50)
    train = gold_sample.withColumn(candidates.LABEL_COLUMN, F.col("contacted_agent").cast("double"))
    return Pipeline(stages=[*stages, classifier]).fit(train)


def test_every_slot_of_the_vector_traces_back_to_a_column_of_the_set(gold_sample):
    columns = config_for(".").feature_sets["full"]
    model = fitted(gold_sample, columns)
    vector = model.transform(gold_sample).schema[features.FEATURES]
    names = [a["name"] for group in vector.metadata["ml_attr"]["attrs"].values() for a in group]
    assert {features.source_column(n) for n in names} == set(columns)


def test_pipeline_scores_raw_silver_rows_with_unseen_or_missing_values(spark, silver_sample, gold_sample):
    model = fitted(gold_sample, config_for(".").feature_sets["full"])
    known = silver_sample.limit(1)
    odd = known.select(
        F.lit("unseen-lead").alias(KEY),
        *[F.col(c) for c in known.columns if c not in (KEY, "referral_source", "lead_status_tag", "total_visits")],
        F.lit("Zillow Premier Agent").alias("referral_source"),  # never seen in training
        F.lit("Toured a listing").alias("lead_status_tag"),
        F.lit(None).cast("int").alias("total_visits"),
    )
    empty = spark.createDataFrame([("blank-lead",)], f"{KEY} string").select(
        KEY, *[F.lit(None).cast(f.dataType).alias(f.name) for f in known.schema.fields if f.name != KEY]
    )
    rows = score(model, odd.unionByName(empty), 0.5, PRIORITY).select(KEY, "score", "prediction", "priority")
    scored = {r[KEY]: r for r in rows.collect()}
    assert set(scored) == {"unseen-lead", "blank-lead"}
    for row in scored.values():
        assert 0.0 < row["score"] < 1.0
        assert row["prediction"] == (row["score"] >= 0.5)


def test_score_keeps_the_input_columns_and_bands_priority(silver_sample, gold_sample):
    model = fitted(gold_sample, config_for(".").feature_sets["pre_contact"])
    scored = score(model, silver_sample, 0.3, PRIORITY)
    assert scored.columns == [*silver_sample.columns, "score", "prediction", "priority"]
    for row in scored.select("score", "prediction", "priority").collect():
        band = "hot" if row["score"] >= 0.7 else "warm" if row["score"] >= 0.4 else "cold"
        assert (row["priority"], row["prediction"]) == (band, row["score"] >= 0.3)


def test_pre_contact_holds_no_sales_team_column_and_full_holds_the_originals():
    sets = config_for(".").feature_sets
    assert not features.SALES_TEAM_COLUMNS & set(sets["pre_contact"])
    assert set(candidates.ORIGINAL_COLUMNS) <= set(sets["full"])


def test_tree_encoding_indexes_categories_with_their_metadata_in_three_stages(gold_sample):
    columns = config_for(".").feature_sets["pre_contact"]
    stages = features.feature_stages(columns, encoding="index")
    assert [type(s).__name__ for s in stages] == ["SQLTransformer", "StringIndexer", "VectorAssembler"]
    train = gold_sample.withColumn(candidates.LABEL_COLUMN, F.col("contacted_agent").cast("double"))
    vectors = Pipeline(stages=stages).fit(train).transform(train)
    metadata = vectors.schema[features.FEATURES].metadata
    slots = features.categorical_slots(metadata)
    names = {a["idx"]: a["name"] for group in metadata["ml_attr"]["attrs"].values() for a in group}
    categoricals = [c for c in columns if BY_NAME[c].kind == "string"]
    assert sorted(features.source_column(names[i]) for i in slots) == sorted(categoricals)
    assert len(names) == len(columns)  # one slot per column: no one-hot vectors
    # Missing numbers and flags become -1, below every real value, so a tree can split the unanswered off.
    assert vectors.where("total_visits IS NULL").select(F.col("total_visits__double")).distinct().collect() in (
        [],
        [(-1.0,)],
    )

    gbt = fit.told_categories(GBTClassifier(labelCol=candidates.LABEL_COLUMN, maxBins=8), vectors)
    assert gbt.getOrDefault("maxBins") >= max(slots.values())
