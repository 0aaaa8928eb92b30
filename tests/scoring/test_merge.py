"""MERGE into lead_scores: newest event wins, late events never overwrite, a replayed batch changes nothing."""

from __future__ import annotations

import json
from contextlib import ExitStack, contextmanager
from datetime import datetime

from chispa import assert_df_equality

from leadscore.console.reader import DeltaLakeReader
from leadscore.monitoring import batches
from leadscore.scoring import merge as scores_merge
from leadscore.streaming import commit_tags
from leadscore.streaming.commits import BatchCommits
from tests.helpers.lakehouse import session_setting, without_auto_compaction

AUTO_COMPACT_MIN_FILES = "spark.databricks.delta.autoCompact.minNumFiles"
AUTO_COMPACT_MIN_FILE_SIZE = "spark.databricks.delta.autoCompact.minFileSize"
# Whether this process counts the small files a write adds: off, a write stands for another process's.
COUNTS_SMALL_FILES = "spark.databricks.delta.autoCompact.recordPartitionStats.enabled"

ROWS_DDL = (
    "prospect_id string, lead_number int, score double, prediction boolean, priority string, "
    "lead_capture_channel string, referral_source string, last_action string, total_visits int, "
    "total_browsing_time int, opted_out_call boolean, opted_out_email boolean, model_version string, "
    "event_ts timestamp, event_file string, event_seq long, scored_at timestamp, batch_id long, _ingested_at timestamp"
)
T0, T1, T2 = datetime(2026, 11, 1, 9), datetime(2026, 11, 1, 10), datetime(2026, 11, 1, 11)


def row(lead: str, score: float, event_ts: datetime, seq: int = 2, batch: int = 0, file: str = "f1.csv"):
    priority = "hot" if score >= 0.7 else "warm" if score >= 0.4 else "cold"
    return (lead, 1, score, score >= 0.5, priority, "API", "Google", "Email Opened", 3, 100, False, False, "1",
            event_ts, file, seq, T2, batch, T2)  # fmt: skip


def create(spark, config):
    table = config.table("lead_scores")
    table.create_if_missing(spark, spark.createDataFrame([], ROWS_DDL).schema)
    return table


def current(spark, table):
    return table.read(spark).select("prospect_id", "score", "event_ts", "event_seq").orderBy("prospect_id")


def test_newer_events_update_new_leads_insert_and_late_events_are_ignored(spark, config):
    table = create(spark, config)
    scores_merge.merge(spark, config, spark.createDataFrame([row("a", 0.2, T1), row("b", 0.3, T1)], ROWS_DDL))
    scores_merge.merge(
        spark,
        config,
        spark.createDataFrame(
            [row("a", 0.9, T2), row("b", 0.99, T0), row("c", 0.5, T1)],  # b's event is late: older than stored
            ROWS_DDL,
        ),
    )
    scores_merge.merge(
        spark, config, spark.createDataFrame([row("a", 0.1, T2, seq=1), row("c", 0.6, T1, seq=3)], ROWS_DDL)
    )
    expected = spark.createDataFrame(
        [("a", 0.9, T2, 2), ("b", 0.3, T1, 2), ("c", 0.6, T1, 3)],
        "prospect_id string, score double, event_ts timestamp, event_seq long",
    )
    assert_df_equality(current(spark, table), expected, ignore_nullable=True)


def test_the_table_feeds_changes_compacts_itself_and_is_not_clustered(spark, config):
    table = create(spark, config)
    detail = spark.sql(f"DESCRIBE DETAIL {table.sql_name}").first()
    assert detail["properties"]["delta.enableChangeDataFeed"] == "true"
    assert detail["properties"]["delta.autoOptimize.autoCompact"] == "true"
    assert not detail["clusteringColumns"]  # Delta 4.0 clusters by rewriting every file, at every compaction


def test_events_at_the_same_time_are_ordered_by_file_then_line_whatever_the_batch_order(spark, config):
    table = create(spark, config)
    later_file = [row("a", 0.9, T1, seq=1, file="2026-11-01/b.csv")]
    earlier_file = [row("a", 0.1, T1, seq=9, file="2026-11-01/a.csv")]
    for rows in (later_file, earlier_file):  # the later file's event arrives first and still wins
        scores_merge.merge(spark, config, spark.createDataFrame(rows, ROWS_DDL), leads=["a"])
    assert [tuple(r) for r in current(spark, table).collect()] == [("a", 0.9, T1, 1)]


def test_naming_the_leads_prunes_nothing_it_should_not(spark, config):
    table = create(spark, config)
    scores_merge.merge(spark, config, spark.createDataFrame([row("a", 0.2, T1), row("o'hara", 0.3, T1)], ROWS_DDL))
    scores_merge.merge(spark, config, spark.createDataFrame([row("o'hara", 0.8, T2)], ROWS_DDL), leads=["o'hara"])
    assert [(r["prospect_id"], r["score"]) for r in current(spark, table).collect()] == [("a", 0.2), ("o'hara", 0.8)]


def test_a_backlog_of_leads_the_table_does_not_hold_is_appended_and_one_it_holds_merged(spark, config, monkeypatch):
    monkeypatch.setattr(scores_merge, "PRUNING_LEADS", 1)  # any batch of two leads or more is a backlog
    table = create(spark, config)

    def write(*rows):
        frame = spark.createDataFrame(list(rows), ROWS_DDL)
        return scores_merge.write_scores(spark, config, frame, [r[0] for r in rows])

    assert write(row("a", 0.2, T1), row("b", 0.3, T1)) == "append"
    assert write(row("c", 0.4, T1), row("d", 0.5, T1)) == "append"
    assert write(row("b", 0.9, T2), row("e", 0.6, T1), row("a", 0.1, T0)) == "merge"  # b newer; a's event is late
    assert write(row("e", 0.7, T2)) == "merge"  # a small batch: MERGEd without asking
    history = table.history(spark).orderBy("version").collect()
    operations = [r["operation"] for r in history if r["operation"] not in commit_tags.NOT_A_WRITE]  # compactions
    assert operations == ["CREATE TABLE", "WRITE", "WRITE", "MERGE", "MERGE"]
    expected = spark.createDataFrame(
        [("a", 0.2, T1, 2), ("b", 0.9, T2, 2), ("c", 0.4, T1, 2), ("d", 0.5, T1, 2), ("e", 0.7, T2, 2)],
        "prospect_id string, score double, event_ts timestamp, event_seq long",
    )
    assert_df_equality(current(spark, table), expected, ignore_nullable=True)


@contextmanager
def compacting_as_the_scores_query(spark, changed: dict[str, str]):
    """The session's auto compaction as the scores query sets it (scores_merge.COMPACTION_SETTINGS), `changed` aside."""
    with ExitStack() as settings:
        for key, value in {**scores_merge.COMPACTION_SETTINGS, **changed}.items():
            settings.enter_context(session_setting(spark, key, value))
        yield


def new_checkpoint(tmp_path) -> BatchCommits:
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "metadata").write_text(json.dumps({"id": "b7d3f0d8-5a8e-4f8c-9d0e-3f1c2a4b5c6d"}))
    return BatchCommits(str(checkpoint))


def file_names(spark, table) -> set[str]:
    return {r[0] for r in table.read(spark).select("_metadata.file_name").distinct().collect()}


def test_auto_compaction_takes_the_merges_small_files_only_and_is_not_taken_for_a_batchs_commit(
    spark, config, tmp_path
):
    """Delta compacts a MERGE's small files in a hook of its commit, in the same session: a large file (a drained
    backlog's) is left as it is, and the OPTIMIZE, which carries the batch's tag and record, is neither the batch's
    commit nor a second record of it."""
    table = create(spark, config)
    backlog = spark.createDataFrame([row(f"backlog-{i:05d}", 0.5, T0) for i in range(2_000)], ROWS_DDL)
    with without_auto_compaction(spark):  # a drain's append, as another process makes it
        table.save(backlog.coalesce(1).write.mode("append"))
    (large,) = file_names(spark, table)
    large_bytes = spark.sql(f"DESCRIBE DETAIL {table.sql_name}").first()["sizeInBytes"]
    commits = new_checkpoint(tmp_path)
    figures = {name: 1 for name in batches.OBSERVED}
    # The large file stands for a drain's (the scores query compacts files under 16 MB); Delta's default is 50 small
    # files.
    with compacting_as_the_scores_query(
        spark, {AUTO_COMPACT_MIN_FILE_SIZE: str(large_bytes), AUTO_COMPACT_MIN_FILES: "2"}
    ):
        for batch_id, lead in enumerate(("a", "b", "c")):
            record = batches.commit_record(figures, ("lead_scoring_full", "1"), 0)
            with commits.tagged(spark, batch_id, {batches.RECORD: record}):
                scores_merge.merge(spark, config, spark.createDataFrame([row(lead, 0.2, T1)], ROWS_DDL))
    compactions = table.history(spark).where("operation = 'OPTIMIZE'").collect()
    assert compactions and all(c["operationParameters"]["auto"] == "true" for c in compactions)
    assert large in file_names(spark, table)  # never rewritten
    assert len(file_names(spark, table)) < 1 + 3  # the MERGEs' files were compacted
    assert json.loads(compactions[0]["userMetadata"])["batch_id"] >= 1  # the tag of the MERGE it followed
    assert commits.committed(spark, table, 2)["operation"] == "MERGE"  # the run's first batch asks: its MERGE
    recorded = batches.from_history(DeltaLakeReader(config).history("lead_scores"))
    assert list(recorded["batch_id"]) == [0, 1, 2]
    assert table.read(spark).count() == 2_000 + 3


def test_a_stream_restarted_on_the_table_compacts_once_small_files_gather_not_after_every_merge(spark, config):
    """Delta's default compacts a table at a process's first write to it; that compaction takes the small files an
    earlier process left too, brings the process's count of small files to zero and so forgets it compacted: a
    restarted stream compacted after every MERGE. The scores query's settings wait for the small files it made."""
    table = create(spark, config)
    earlier = spark.createDataFrame([row(f"earlier-{i:02d}", 0.5, T0) for i in range(20)], ROWS_DDL)
    with session_setting(spark, COUNTS_SMALL_FILES, "false"), without_auto_compaction(spark):  # another process's
        table.save(earlier.coalesce(1).write.mode("append"))
    with compacting_as_the_scores_query(spark, {AUTO_COMPACT_MIN_FILES: "3"}):
        for lead in "abcdef":  # one new lead a MERGE: one small file each
            scores_merge.merge(spark, config, spark.createDataFrame([row(lead, 0.2, T1)], ROWS_DDL))
    operations = [r["operation"] for r in table.history(spark).orderBy("version").collect()]
    assert operations[2:] == ["MERGE", "MERGE", "MERGE", "OPTIMIZE", "MERGE", "MERGE", "MERGE", "OPTIMIZE"]
    assert table.read(spark).count() == 20 + 6


def test_a_replayed_batch_neither_changes_the_table_nor_adds_a_version(spark, config, tmp_path):
    table = create(spark, config)
    commits = new_checkpoint(tmp_path)
    batch = spark.createDataFrame([row("a", 0.2, T1), row("b", 0.3, T1)], ROWS_DDL)

    for _ in range(2):  # two runs, each replaying batch 7 as its first batch
        commits = BatchCommits(commits.checkpoint)
        if commits.committed(spark, table, 7) is None:
            with commits.tagged(spark, 7), without_auto_compaction(spark):
                scores_merge.merge(spark, config, batch)
    assert table.history(spark).count() == 2  # CREATE + one MERGE
    assert commits.committed(spark, table, 7)["operation"] == "MERGE"
    assert table.read(spark).count() == 2

    newer = spark.createDataFrame([row("a", 0.8, T2)], ROWS_DDL)
    assert commits.committed(spark, table, 8) is None  # a later batch of the run never asks
    with commits.tagged(spark, 8), without_auto_compaction(spark):
        scores_merge.merge(spark, config, newer)
    assert table.history(spark).count() == 3
    assert spark.conf.get("spark.databricks.delta.commitInfo.userMetadata", None) is None
