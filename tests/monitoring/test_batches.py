"""A scores batch's record, read back from lead_scores' history: only the commits that carry one, figures intact."""

from __future__ import annotations

import pandas as pd

from leadscore.monitoring import batches
from leadscore.streaming import commit_tags

COMMITTED = pd.Timestamp("2026-11-27 10:00:10", tz="UTC")
MICROS = int(pd.Timestamp("2026-11-27 10:00:00", tz="UTC").value // 1000)
FIGURES = {
    "events": 12, "oldest_event_us": MICROS - 30_000_000, "newest_event_us": MICROS, "leads_merged": 9,
    "score_p10": 0.1, "score_p50": 0.4, "score_p90": 0.8, "hot": 2, "warm": 3, "cold": 4,
}  # fmt: skip


def commit(version: int, user_metadata: str | None, metrics: dict | None = None, operation: str = "MERGE") -> tuple:
    return (version, COMMITTED + pd.Timedelta(seconds=version), operation, metrics or {}, user_metadata)


def test_the_record_comes_back_with_what_only_the_commit_knows_and_other_commits_are_left_out():
    record = batches.commit_record(FIGURES, ("lead_scoring_full", "7"), MICROS + 2_000_000)
    tagged = commit_tags.tag("q", 3, {batches.RECORD: record})
    history = pd.DataFrame(
        [
            commit(5, tagged, {"numRemovedFiles": "50"}, "OPTIMIZE"),  # auto compaction: the MERGE's tag inherited
            commit(4, tagged, {"numTargetRowsInserted": "6",
                                                                     "numTargetRowsUpdated": "3"}),
            commit(3, commit_tags.tag("q", 2)),  # tagged by a batch that records nothing there (an ingest append)
            commit(2, "a note someone left"),
            commit(1, None),  # OPTIMIZE, CREATE TABLE
        ],
        columns=["version", "timestamp", "operation", "operation_metrics", "user_metadata"],
    )  # fmt: skip
    [row] = batches.from_history(history).to_dict("records")
    assert row == {
        "query_id": "q", "batch_id": 3, "committed_at": COMMITTED + pd.Timedelta(seconds=4), "lead_scores_version": 4,
        "events": 12, "leads_merged": 9, "leads_inserted": 6, "leads_updated": 3,
        "oldest_event_ts": pd.Timestamp("2026-11-27 09:59:30", tz="UTC"),
        "newest_event_ts": pd.Timestamp("2026-11-27 10:00:00", tz="UTC"),
        "latency_oldest_s": 44.0, "latency_newest_s": 14.0, "model_name": "lead_scoring_full", "model_version": "7",
        "score_p10": 0.1, "score_p50": 0.4, "score_p90": 0.8, "hot": 2, "warm": 3, "cold": 4, "batch_seconds": 12.0,
    }  # fmt: skip


def test_a_history_without_records_gives_no_rows_with_the_columns():
    history = pd.DataFrame([commit(0, None)], columns=["version", "timestamp", "operation", "operation_metrics",
                                                        "user_metadata"])  # fmt: skip
    assert list(batches.from_history(history).columns) == list(batches.COLUMNS)
    assert batches.from_history(history).empty


def test_a_backlog_appended_counts_its_leads_as_inserted():
    record = batches.commit_record(FIGURES, ("lead_scoring_full", "7"), MICROS)
    appended = (
        0,
        COMMITTED,
        "WRITE",
        {"numOutputRows": "9", "numFiles": "1"},
        commit_tags.tag("q", 0, {batches.RECORD: record}),
    )
    history = pd.DataFrame([appended], columns=["version", "timestamp", "operation", "operation_metrics",
                                                 "user_metadata"])  # fmt: skip
    [row] = batches.from_history(history).to_dict("records")
    assert (row["leads_inserted"], row["leads_updated"]) == (9, 0)
