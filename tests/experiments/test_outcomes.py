"""The score an agent acted on, and the outcome it is judged by."""

from __future__ import annotations

from datetime import datetime

from chispa import assert_df_equality

from leadscore.experiments.outcomes import acted_on

T0 = datetime(2026, 12, 1, 9)


def at(minute: int) -> datetime:
    return T0.replace(minute=minute)


SCORE_EVENTS = "prospect_id string, experiment string, arm string, model_version string, score double, " \
    "priority string, scored_at timestamp, event_ts timestamp, event_file string, event_seq long"  # fmt: skip
SILVER = "prospect_id string, contacted_agent boolean, event_ts timestamp, event_file string, event_seq long"
ACTED = "prospect_id string, arm string, model_version string, score double, priority string, " \
    "scored_at timestamp, outcome double"  # fmt: skip


def test_the_newest_score_before_the_first_labelled_event_and_that_label(spark):
    score_events = spark.createDataFrame(
        [
            # a: scored twice before its outcome (minute 5), once after: the minute-3 score counts
            ("a", "x", "challenger", "2", 0.4, "warm", at(1), at(1), "f1", 2),
            ("a", "x", "challenger", "2", 0.8, "hot", at(3), at(3), "f2", 2),
            ("a", "x", "challenger", "2", 0.9, "hot", at(6), at(5), "f3", 7),
            # b: the outcome's own file, an earlier line: before it
            ("b", "x", "champion", "1", 0.2, "cold", at(5), at(5), "f3", 3),
            # c: no outcome yet
            ("c", "x", "champion", "1", 0.5, "warm", at(2), at(2), "f1", 4),
            # d: first scored with its outcome already known: not compared
            ("d", "x", "champion", "1", 0.7, "hot", at(8), at(8), "f4", 2),
            # e: another experiment
            ("e", "y", "champion", "1", 0.7, "hot", at(1), at(1), "f1", 5),
        ],
        SCORE_EVENTS,
    )
    silver = spark.createDataFrame(
        [
            ("a", None, at(1), "f1", 2), ("a", None, at(3), "f2", 2), ("a", True, at(5), "f3", 7),
            ("a", False, at(9), "f5", 2),  # a later label does not change the outcome already known
            ("b", None, at(5), "f3", 3), ("b", False, at(5), "f3", 9),
            ("c", None, at(2), "f1", 4),
            ("d", True, at(7), "f4", 1), ("d", True, at(8), "f4", 2),
        ],
        SILVER,
    )  # fmt: skip
    expected = spark.createDataFrame(
        [
            ("a", "challenger", "2", 0.8, "hot", at(3), 1.0),
            ("b", "champion", "1", 0.2, "cold", at(5), 0.0),
            ("c", "champion", "1", 0.5, "warm", at(2), None),
        ],
        ACTED,
    )
    assert_df_equality(acted_on(score_events, silver, "x"), expected, ignore_row_order=True, ignore_nullable=True)
