"""Gold training table: each lead's latest state, labelled only, in a split that never moves."""

from __future__ import annotations

import uuid
from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import functions as F

from leadscore.ingest.silver import latest_per_lead
from leadscore.schema import COLUMNS, KEY, LABEL
from leadscore.training import gold

SQL_TYPES = {"string": "string", "int": "int", "double": "double", "bool": "boolean", "label": "boolean"}
SILVER_DDL = ", ".join(
    [f"`{c.name}` {SQL_TYPES[c.kind]}" for c in COLUMNS]
    + ["event_ts timestamp", "event_file string", "event_seq long", "_source_file string"]
)
SPLIT = {"train": 70, "validation": 15, "test": 15}
T10, T11 = datetime(2026, 11, 1, 10), datetime(2026, 11, 1, 11)


def silver_frame(spark, rows: list[dict]):
    """Silver-shaped rows: the given columns set, every other one null."""
    tuples = [
        (
            *[r.get(c.name) for c in COLUMNS],
            r.get("event_ts", T10),
            r.get("event_file", "a.csv"),
            r.get("event_seq", 2),
            r.get("_source_file", "a"),
        )
        for r in rows
    ]
    return spark.createDataFrame(tuples, SILVER_DDL)


def leads(count: int, start: int = 0) -> list[dict]:
    return [{KEY: str(uuid.UUID(int=i)), LABEL: i % 3 == 0} for i in range(start, start + count)]


def test_split_is_stable_as_data_grows_and_follows_the_percentages(spark):
    before = gold.training_table(silver_frame(spark, leads(1500)), SPLIT).select(KEY, "split")
    grown = gold.training_table(silver_frame(spark, leads(1500) + leads(500, start=5000)), SPLIT)
    assert_df_equality(
        grown.join(before.select(KEY), KEY).select(KEY, "split"), before, ignore_row_order=True, ignore_nullable=True
    )
    shares = {r["split"]: r["count"] / 2000 for r in grown.groupBy("split").count().collect()}
    assert set(shares) == {"train", "validation", "test"}
    for name, percent in SPLIT.items():
        assert abs(shares[name] - percent / 100) < 0.03, shares


def test_split_depends_on_the_lead_only(spark):
    """Another event of the same lead, or another run, never moves it: its key alone picks the split.

    The pinned splits guard the hash itself: changing it would move leads between train and test across versions.
    """
    ids = [str(uuid.UUID(int=i)) for i in range(6)]
    first = silver_frame(spark, [{KEY: i, LABEL: True, "total_visits": 1} for i in ids])
    later = silver_frame(spark, [{KEY: i, LABEL: False, "total_visits": 9, "event_ts": T11} for i in ids])
    splits = [gold.training_table(df, SPLIT).select(KEY, "split").orderBy(KEY).collect() for df in (first, later)]
    assert splits[0] == splits[1]
    assert [r["split"] for r in splits[0]] == ["train", "train", "train", "test", "train", "validation"]


def test_latest_per_lead_picks_the_newest_event(spark):
    a, b, c, d = (str(uuid.UUID(int=i)) for i in (1, 2, 3, 4))
    silver = silver_frame(
        spark,
        [
            {KEY: a, LABEL: False, "total_visits": 1, "event_ts": T10, "event_seq": 9},
            {KEY: a, LABEL: True, "total_visits": 3, "event_ts": T11, "event_seq": 1},
            {KEY: a, LABEL: True, "total_visits": 7, "event_ts": T11, "event_seq": 2},
            {KEY: b, LABEL: False, "total_visits": 4, "event_ts": T10},
            {KEY: c, LABEL: True, "total_visits": 5, "event_ts": T10},
            {KEY: c, LABEL: None, "total_visits": 6, "event_ts": T11},
            # same landing time: the later file wins whatever the lines say
            {KEY: d, LABEL: True, "total_visits": 8, "event_ts": T11, "event_file": "b.csv", "event_seq": 2},
            {KEY: d, LABEL: True, "total_visits": 9, "event_ts": T11, "event_file": "a.csv", "event_seq": 50},
        ],
    )
    latest = latest_per_lead(silver).select(KEY, "total_visits")
    expected = spark.createDataFrame([(a, 7), (b, 4), (c, 6), (d, 8)], f"{KEY} string, total_visits int")
    assert_df_equality(latest, expected, ignore_row_order=True, ignore_nullable=True)

    training = gold.training_table(silver, SPLIT)
    assert sorted(r[KEY] for r in training.collect()) == [a, b, d]  # c's latest event has no label: not known now
    assert set(training.columns) == {*[col.name for col in COLUMNS], "event_ts", "event_file", "event_seq", "split"}


def test_write_training_overwrites_gold_from_silver(spark, config):
    config.table("silver_leads").save(silver_frame(spark, leads(40)).write.mode("overwrite"))
    assert sum(gold.write_training(spark, config).values()) == 40
    config.table("silver_leads").save(silver_frame(spark, leads(25, start=100)).write.mode("overwrite"))
    counts = gold.write_training(spark, config)
    table = config.table("gold_training").read(spark)
    assert sum(counts.values()) == table.count() == 25
    assert table.where(F.col(KEY) == str(uuid.UUID(int=0))).count() == 0
