"""The agents' view: per lead, the newest of its lead_scores row and its score_events past lead_scores' high-water mark;
newest wins, a tie goes to lead_scores, a late event never shows, what lies before the mark is not read. Spark
(`leadscore queue`, `scores`) and delta-rs (the console) read the same rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from chispa import assert_df_equality

from leadscore.console import data
from leadscore.console.reader import DeltaLakeReader
from leadscore.scoring import live_view
from leadscore.timetravel import read_live
from tests.helpers.lakehouse import config_for
from tests.helpers.lead_scores import LEAD_SCORES_SCHEMA, SCORE_EVENTS_SCHEMA, T0, lead

SHOWN = "prospect_id string, score double, event_ts timestamp, event_seq long"
MINUTE = timedelta(minutes=1)


def row(key: str, score: float, minute: int, ingested_minute: int, seq: int = 1) -> tuple:
    """A lead_scores row of lead `key`: its event landed at T0 + `minute` (line `seq`), silver took it at T0 +
    `ingested_minute`."""
    fields = list(lead(key, ord(key), score, "hot", False, minute))
    fields[COLUMNS.index("event_seq")] = seq
    fields[COLUMNS.index("_ingested_at")] = T0 + ingested_minute * MINUTE
    return tuple(fields)


def event(key: str, score: float, minute: int, ingested_minute: int, seq: int = 1) -> tuple:
    """The same as a score_events row, with the ingest batch that wrote it."""
    return (*row(key, score, minute, ingested_minute, seq), "q-1", ingested_minute)


COLUMNS = [column.split()[0] for column in LEAD_SCORES_SCHEMA.split(", ")]


@pytest.fixture
def tables(spark, tmp_path):
    config = config_for(tmp_path / "lakehouse")

    def write(lead_scores: list[tuple], score_events: list[tuple]):
        for logical, rows, schema in (
            ("lead_scores", lead_scores, LEAD_SCORES_SCHEMA),
            ("score_events", score_events, SCORE_EVENTS_SCHEMA),
        ):
            table = config.table(logical)
            table.create_if_missing(spark, spark.createDataFrame([], schema).schema)
            table.save(spark.createDataFrame(rows, schema).write.mode("append"))
        return config

    return write


def shown(spark, config):
    return read_live(spark, config).select("prospect_id", "score", "event_ts", "event_seq").orderBy("prospect_id")


def expected(spark, rows: list[tuple]):
    return spark.createDataFrame([(k, s, T0 + m * MINUTE, q) for k, s, m, q in rows], SHOWN)


def test_the_newest_event_wins_a_tie_goes_to_lead_scores_and_a_late_event_never_shows(spark, tables):
    config = tables(
        [
            row("a", 0.10, minute=1, ingested_minute=1),
            row("b", 0.20, minute=5, ingested_minute=5),
            row("c", 0.30, minute=5, ingested_minute=5),
            row("g", 0.70, minute=2, ingested_minute=2),  # the high-water mark is minute 5: b's and c's
        ],
        [
            event("a", 0.11, minute=1, ingested_minute=1),  # before the mark: lead_scores has it
            event("a", 0.12, minute=6, ingested_minute=6),  # newer than a's row: shown
            event("b", 0.21, minute=3, ingested_minute=6),  # late: older than b's row, taken after it
            event("c", 0.31, minute=5, ingested_minute=5),  # the event lead_scores holds: the tie goes to it
            event("d", 0.40, minute=6, ingested_minute=6),  # a lead lead_scores has not seen yet
            event("e", 0.50, minute=6, ingested_minute=6),
            event("e", 0.51, minute=6, ingested_minute=6, seq=2),  # same file, later line: newest
            event("e", 0.52, minute=7, ingested_minute=7),  # landed later: newest of all
        ],
    )
    assert_df_equality(
        shown(spark, config),
        expected(
            spark,
            [
                ("a", 0.12, 6, 1),
                ("b", 0.20, 5, 1),
                ("c", 0.30, 5, 1),
                ("d", 0.40, 6, 1),
                ("e", 0.52, 7, 1),
                ("g", 0.70, 2, 1),
            ],
        ),  # fmt: skip
        ignore_nullable=True,
    )


def test_events_before_the_high_water_mark_are_not_read(spark, tables):
    """An event silver took before lead_scores' mark is in lead_scores already (the scores query MERGEs silver in
    order): the view does not read it, even one that would be newer than the lead's row."""
    config = tables(
        [row("a", 0.10, minute=1, ingested_minute=1), row("b", 0.20, minute=5, ingested_minute=5)],
        [event("a", 0.99, minute=4, ingested_minute=4), event("a", 0.98, minute=3, ingested_minute=5)],
    )
    assert_df_equality(
        shown(spark, config), expected(spark, [("a", 0.98, 3, 1), ("b", 0.20, 5, 1)]), ignore_nullable=True
    )


def test_before_any_merge_every_event_counts_and_without_score_events_the_view_is_lead_scores(spark, tables, tmp_path):
    config = tables([], [event("a", 0.10, minute=1, ingested_minute=1), event("a", 0.20, minute=2, ingested_minute=1)])
    assert_df_equality(shown(spark, config), expected(spark, [("a", 0.20, 2, 1)]), ignore_nullable=True)

    only_lead_scores = config_for(tmp_path / "no_live")
    table = only_lead_scores.table("lead_scores")
    table.create_if_missing(spark, spark.createDataFrame([], LEAD_SCORES_SCHEMA).schema)
    table.save(
        spark.createDataFrame([row("a", 0.5, minute=1, ingested_minute=1)], LEAD_SCORES_SCHEMA).write.mode("append")
    )
    assert_df_equality(shown(spark, only_lead_scores), expected(spark, [("a", 0.5, 1, 1)]), ignore_nullable=True)


def test_the_console_reads_the_same_view_through_delta_rs(spark, tables):
    config = tables(
        [row("a", 0.10, minute=1, ingested_minute=1), row("b", 0.20, minute=5, ingested_minute=5)],
        [
            event("a", 0.12, minute=6, ingested_minute=6),
            event("b", 0.21, minute=3, ingested_minute=6),
            event("d", 0.40, minute=6, ingested_minute=6),
        ],  # fmt: skip
    )
    reader = DeltaLakeReader(config)
    through_delta_rs = reader.query(f"SELECT * FROM {data.live_scores(reader)} ORDER BY prospect_id")
    through_spark = read_live(spark, config).orderBy("prospect_id").toPandas()
    assert list(through_delta_rs.columns) == list(live_view.COLUMNS) == list(through_spark.columns)
    assert list(through_delta_rs["prospect_id"]) == ["a", "b", "d"] == list(through_spark["prospect_id"])
    assert list(through_delta_rs["score"]) == [0.12, 0.20, 0.40] == list(through_spark["score"])


def test_the_mark_is_a_literal_every_engine_reads_at_microseconds():
    at = T0 + timedelta(microseconds=7)
    assert live_view.timestamp_literal(at) == "TIMESTAMP '2025-03-01T09:00:00.000007Z'"
    assert live_view.timestamp_literal(None) == "TIMESTAMP '1970-01-01T00:00:00.000000Z'"


def test_the_view_reads_only_the_score_events_files_from_the_high_water_mark_on(spark, tables):
    """Its cost does not grow with score_events: Delta skips every file whose `_ingested_at` statistics lie before
    lead_scores' mark, as the plan's input files show."""
    config = tables([row("a", 0.10, minute=5, ingested_minute=5)], [])
    score_events = config.table("score_events")
    for minute in range(1, 8):  # one file per live batch, as the live query appends them
        rows = spark.createDataFrame([event("b", 0.2, minute, ingested_minute=minute)], SCORE_EVENTS_SCHEMA)
        score_events.save(rows.coalesce(1).write.mode("append"))
    read = [path for path in read_live(spark, config).inputFiles() if "/score_events/" in path]
    assert len(score_events.read(spark).inputFiles()) == 7 and len(read) == 3  # minutes 5, 6 and 7
