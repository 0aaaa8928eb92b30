"""The scores query (silver -> gold.lead_scores): new leads, follow-ups, late events, several events of a lead in a
batch; and `leadscore stream` end to end, landing files -> the agents' view and gold.lead_scores: a champion swapped
while it runs, kill -9 at every point of each query, one writer per lakehouse, score_events across a checkpoint reset,
the view read while the queries run."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from functools import partial
from pathlib import Path

import pandas as pd
import psutil
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from leadscore import cli, realtime
from leadscore.console import data
from leadscore.console.reader import DeltaLakeReader
from leadscore.errors import LeadscoreError
from leadscore.ingest import query as ingest_query
from leadscore.ingest import silver
from leadscore.lifecycle import tracking
from leadscore.lifecycle.registry import CHALLENGER, model_name, move_alias
from leadscore.monitoring import batches
from leadscore.schema import KEY, ORDER
from leadscore.scoring import merge as scores_merge
from leadscore.scoring import query as scores_query
from leadscore.synthetic.generator import generate_chunks, write_csv
from leadscore.timetravel import read_live
from tests.helpers.lakehouse import config_for, load_fixture
from tests.helpers.processes import kill_when


@pytest.fixture(scope="module")
def registry(trained_lakehouse, tmp_path_factory) -> Path:
    """A copy of the run's tracking store whose model has a version 2, version 1's model registered again: version 1
    is the champion and version 2, which gains nothing on it, the challenger (what a training of a new version that
    gains nothing leaves, tests/training/test_lifecycle.py)."""
    config, _ = trained_lakehouse
    store = tmp_path_factory.mktemp("registry")
    shutil.copy(Path(config.lakehouse) / "mlflow.db", store / "mlflow.db")
    client, name = tracking.client(config_for(store)), model_name(config)
    first = client.get_model_version(name, "1")
    second = client.create_model_version(name, first.source, run_id=first.run_id)
    move_alias(client, name, CHALLENGER, second.version, "version 1's model, registered again")
    return store


def lakehouse_with_model(registry: Path, tmp_path: Path, **overrides):
    """A fresh lakehouse holding only a copy of the registry's tracking store: its own landing, tables and
    checkpoints, and aliases it may move."""
    config = config_for(tmp_path / "lakehouse", **overrides)
    Path(config.landing).mkdir(parents=True)
    shutil.copy(registry / "mlflow.db", Path(config.lakehouse) / "mlflow.db")
    return config


def land(config, name: str, rows: list[list[str]], landed_at: float | None = None) -> Path:
    path = Path(config.landing) / name
    write_csv(path, [rows])
    if landed_at is not None:
        os.utime(path, (landed_at, landed_at))
    return path


def new_leads(count: int, seed: int, first: int) -> list[list[str]]:
    return next(generate_chunks(count, seed, chunk_size=count, first_lead_number=first))


def follow_up(row: list[str], visits: int) -> list[str]:
    later = list(row)
    later[7], later[8], later[10] = str(visits), str(int(float(row[8] or 0)) + 900), "Had a Phone Conversation"
    return later


def scores_of(spark, config):
    return config.table("lead_scores").read(spark)


def to_silver(spark, config, *landed: Path) -> None:
    """Landed files' rows appended to silver by batch writes, parsed and checked by the ingest query's own code: the
    fixture of a test whose subject is the scores query, not the ingest query (tests/ingest)."""
    ingest_query.create_tables(spark, config)
    for path in landed:
        rows = silver.silver_rows(ingest_query.checked_file_rows(spark, str(path), config.ingest.encoding))
        config.table("silver_leads").save(rows.write.mode("append"))


def score(spark, config) -> None:
    """The scores query over what silver holds, as `leadscore stream --available-now` without a source runs it."""
    realtime.run(spark, config, None, available_now=True)


def test_stream_scores_new_leads_and_updates_them_on_follow_up(spark, registry, tmp_path):
    config = lakehouse_with_model(registry, tmp_path)
    leads = new_leads(40, seed=3, first=900_000)
    now = time.time()
    to_silver(spark, config, land(config, "a.csv", leads[:20], now - 60), land(config, "b.csv", leads[20:], now - 50))
    score(spark, config)
    first = scores_of(spark, config)
    assert first.count() == 40
    assert first.where("score < 0 OR score > 1 OR priority NOT IN ('hot','warm','cold')").count() == 0

    to_silver(spark, config, land(config, "c.csv", [follow_up(leads[0], 30)], now - 10))
    score(spark, config)
    updated = scores_of(spark, config).where(f"prospect_id = '{leads[0][0]}'").first()
    assert (updated["total_visits"], updated["last_action"]) == (30, "Had a Phone Conversation")
    assert scores_of(spark, config).count() == 40
    last = config.table("lead_scores").history(spark, 1).first()
    assert (last["operation"], last["operationMetrics"]["numTargetRowsUpdated"]) == ("MERGE", "1")
    # each batch's record, in its MERGE's commit: 40 new leads, then one follow-up, every one counted once
    recorded = batches.from_history(DeltaLakeReader(config).history("lead_scores"))
    assert (recorded["leads_inserted"] + recorded["leads_updated"] == recorded["leads_merged"]).all()
    assert (recorded["leads_merged"].sum(), recorded["events"].sum(), recorded["leads_updated"].sum()) == (41, 41, 1)
    assert set(recorded["model_version"]) == {updated["model_version"]}
    assert (recorded["latency_newest_s"] >= 10).all() and (recorded["batch_seconds"] > 0).all()
    for key, value in scores_merge.COMPACTION_SETTINGS.items():  # how the query's MERGEs compact: their own files, once
        assert spark.conf.get(key) == value


def test_a_late_event_never_overwrites_a_newer_score(spark, registry, tmp_path):
    config = lakehouse_with_model(registry, tmp_path)
    lead = new_leads(1, seed=5, first=910_000)[0]
    now = time.time()
    to_silver(spark, config, land(config, "newer.csv", [follow_up(lead, 25)], now - 10))
    score(spark, config)
    to_silver(spark, config, land(config, "late.csv", [lead], now - 3600))  # an older event delivered after it
    score(spark, config)
    stored = scores_of(spark, config).first()
    assert (stored["total_visits"], stored["last_action"]) == (25, "Had a Phone Conversation")


def test_several_events_of_a_lead_in_one_batch_merge_as_its_latest(spark, registry, tmp_path, caplog):
    config = lakehouse_with_model(registry, tmp_path)
    lead = new_leads(1, seed=6, first=920_000)[0]
    to_silver(spark, config, land(config, "burst.csv", [lead, follow_up(lead, 11), follow_up(lead, 12)]))
    with caplog.at_level(logging.INFO, logger="leadscore"):
        score(spark, config)
    stored = scores_of(spark, config).collect()
    assert [(r["total_visits"], r["event_seq"]) for r in stored] == [(12, 4)]
    assert "scores: batch 0: 3 events, 1 leads scored" in caplog.text  # the lead's latest event only


def planned_columns(query) -> list[str]:
    """The columns the query's own plan hands each micro-batch. Spark builds that plan in the query's own thread, at
    its start: read it once the query has run a trigger (a drain), never right after `start()`."""
    return list(query._jsq.streamingQuery().logicalPlan().schema().fieldNames())


def test_the_stream_scores_in_its_plan_swaps_to_a_promoted_champion_between_batches_and_shadows_the_challenger(
    spark, registry, tmp_path
):
    config = lakehouse_with_model(registry, tmp_path, **{"stream.shadow_challenger": True})
    before, after = new_leads(5, seed=8, first=930_000), new_leads(5, seed=9, first=931_000)
    queries = realtime.start(spark, config, config.landing)  # runs until stopped, a micro-batch a second
    try:
        land(config, "a.csv", before)
        realtime.drain(queries)
        scoring = next(query for query in queries if query.name == "scores")
        assert set(scores_query.SCORED_COLUMNS) <= set(planned_columns(scoring)), "scored once, in the query's plan"
        assert cli.main(["promote", "--lakehouse", config.lakehouse, "--version", "2"]) == 0  # while it runs
        land(config, "b.csv", after)
        realtime.drain(queries)
        assert all(query.isActive for query in queries)  # no restart
    finally:
        for query in queries:
            query.stop()
    rows = scores_of(spark, config).select("lead_number", "model_version", "challenger_version", "challenger_score")
    by_lead = {r["lead_number"]: r for r in rows.collect()}
    for lead in before:  # scored by champion 1, shadowed by challenger 2
        row = by_lead[int(lead[1])]
        assert (row["model_version"], row["challenger_version"]) == ("1", "2") and 0 < row["challenger_score"] < 1
    for lead in after:  # version 2 is champion now, and no version is the challenger: scored again in the batch
        row = by_lead[int(lead[1])]
        assert (row["model_version"], row["challenger_version"], row["challenger_score"]) == ("2", None, None)


def land_kill_traffic(config, landed_at: float) -> None:
    """Three files of 20 new leads and a follow-up each, landed a second apart."""
    leads = new_leads(60, seed=12, first=940_000)
    for i in range(3):
        land(config, f"f{i}.csv", leads[i * 20 : (i + 1) * 20] + [follow_up(leads[i], 40 + i)], landed_at + i)


def merges(spark, config) -> list:
    return [r for r in config.table("lead_scores").history(spark).collect() if r["operation"] == "MERGE"]


# What differs between two lakehouses fed the same files: when and by which query run a row was written, and the
# lakehouse folder in the files' paths.
RUN_STAMPS = ("_ingested_at", "_processed_at", "_ingest_query_id", "scored_at")
FILE_COLUMNS = ("_source_file", "event_file")


def every_table(spark, config) -> dict:
    """Each table the two queries write, and the agents' view, without run stamps, files named without their
    lakehouse's folder, in a stable order."""
    tables = {logical: config.table(logical).read(spark) for logical in (*INGESTED, "score_events")}
    tables["lead_scores"] = config.table("lead_scores").read(spark).drop("batch_id")
    tables["view"] = read_live(spark, config).drop("batch_id")

    def stable_rows(rows):
        rows = rows.drop(*RUN_STAMPS)
        rows = rows.withColumns({c: F.regexp_extract(c, "[^/]+$", 0) for c in FILE_COLUMNS if c in rows.columns})
        return rows.orderBy(*sorted(rows.columns))

    return {name: stable_rows(rows) for name, rows in tables.items()}


def assert_same_tables(spark, config, expected: dict) -> None:
    for name, rows in every_table(spark, config).items():
        assert_df_equality(rows, expected[name], ignore_nullable=True, ignore_row_order=True)


def assert_each_event_scored_once(spark, config) -> None:
    events = config.table("score_events").read(spark)
    assert events.count() == events.select(KEY, *ORDER, "model_version").distinct().count() > 0


INGESTED = ("bronze_leads", "silver_leads", "quarantine", "duplicates")


@pytest.fixture(scope="module")
def uninterrupted(spark, registry, tmp_path_factory):
    """The kill tests' traffic through a run nothing interrupts: what each killed and resumed run must end as."""
    landed_at = time.time() - 100
    clean = lakehouse_with_model(registry, tmp_path_factory.mktemp("uninterrupted"))
    land_kill_traffic(clean, landed_at)
    realtime.run(spark, clean, clean.landing, available_now=True)
    return landed_at, every_table(spark, clean), len(merges(spark, clean))


def kill_points(config) -> list[tuple[str, list[str]]]:
    """Where each run is killed and what must not exist yet, in the order the run meets them: each run after the first
    replays the batch the one before was killed in. The live query's batch 0: its score_events append committed, its
    checkpoint not; then all its appends and its checkpoint committed, the MERGE not; the scores query's batch 0: its
    MERGE committed, its checkpoint not; then done."""
    live = Path(ingest_query.checkpoint_for(config, config.landing)).relative_to(config.lakehouse)
    score_events_committed = f"gold/score_events/_delta_log/{1:020d}.json"
    live_done = f"{live}/commits/0"
    merge_committed = f"gold/lead_scores/_delta_log/{1:020d}.json"
    merge_done = "_checkpoints/lead_scores/commits/0"
    return [
        (score_events_committed, [live_done, merge_committed]),
        (live_done, [merge_committed]),
        (merge_committed, [merge_done]),
        (merge_done, []),
    ]


def a_second_writer_stops_at_once_naming_the_first(config, first, capsys) -> None:
    """While `first` streams on the lakehouse, another stream or ingest of it stops at once, naming the first."""
    for argv in (
        ["stream", "--source", config.landing],
        ["stream", "--source", config.landing, "--no-merge"],
        ["stream"],
        ["ingest", "--source", config.landing],
    ):
        assert cli.main([*argv, "--lakehouse", config.lakehouse]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and f"is already running (pid {first.pid} on " in error[0], error
        assert "one writer per lakehouse" in error[0]
    jvms = [p for p in psutil.Process(first.pid).children(recursive=True) if p.name() == "java"]
    assert [f"-Xmx{config.stream.driver_memory}" in p.cmdline() for p in jvms] == [True], "the stream's own heap"


def test_stream_killed_at_every_point_of_each_query_ends_as_an_uninterrupted_run_and_has_no_second_writer(
    spark, registry, uninterrupted, tmp_path, capsys
):
    """Each run is a `leadscore stream` process killed with SIGKILL; the one killed in the scores query (it holds
    both queries' locks), stopped where it is killed, is also the running stream a second writer of the lakehouse
    meets."""
    landed_at, expected, expected_merges = uninterrupted
    killed = lakehouse_with_model(registry, tmp_path)
    land_kill_traffic(killed, landed_at)

    command = ["stream", "--available-now", "--source", killed.landing, "--lakehouse", killed.lakehouse]
    second_writer = partial(a_second_writer_stops_at_once_naming_the_first, killed, capsys=capsys)
    for kill_at, not_yet in kill_points(killed):
        in_scores_query = kill_at.startswith("gold/lead_scores")  # its MERGE committed: the one such point
        kill_when(command, Path(killed.lakehouse) / kill_at, paused=second_writer if in_scores_query else None)
        assert not any((Path(killed.lakehouse) / path).exists() for path in not_yet), "killed too late"

    realtime.run(spark, killed, killed.landing, available_now=True)
    assert_same_tables(spark, killed, expected)
    assert_each_event_scored_once(spark, killed)
    assert len(merges(spark, killed)) == expected_merges, "a replayed batch added a version"
    recorded = batches.from_history(DeltaLakeReader(killed).history("lead_scores"))
    assert len(recorded) == expected_merges and not recorded.duplicated(["query_id", "batch_id"]).any()


def test_score_events_hold_each_event_once_across_a_replay_and_a_checkpoint_reset_and_the_view_ends_as_lead_scores(
    spark, registry, tmp_path
):
    config = lakehouse_with_model(registry, tmp_path)
    leads = new_leads(20, seed=14, first=970_000)
    first = land(config, "a.csv", leads[:10], time.time() - 60)
    realtime.run(spark, config, config.landing, available_now=True)
    assert config.table("score_events").read(spark).count() == 10
    versions = {t: config.table(t).latest_version(spark) for t in (*INGESTED, "score_events", "lead_scores")}

    # A replay of the same batch ids: both queries' batch 0 planned, its writes committed, its checkpoint commit lost.
    for checkpoint in (ingest_query.checkpoint_for(config, config.landing), config.checkpoint("lead_scores")):
        for lost in ("0", ".0.crc"):  # the commit and its checksum, which would keep the replay from writing it
            (Path(checkpoint) / "commits" / lost).unlink()
    realtime.run(spark, config, config.landing, available_now=True)
    assert {logical: config.table(logical).latest_version(spark) for logical in versions} == versions
    assert config.table("score_events").read(spark).count() == 10

    shutil.rmtree(Path(config.lakehouse) / "_checkpoints")  # a reset: the new queries meet every file again
    shutil.copy(first, Path(config.landing) / "a_again.csv")  # and a re-delivery of contents scored before it
    land(config, "b.csv", leads[10:], time.time() - 30)
    realtime.run(spark, config, config.landing, available_now=True)
    assert config.table("score_events").read(spark).count() == 20  # b's leads only
    assert_each_event_scored_once(spark, config)
    assert_df_equality(
        read_live(spark, config).orderBy(KEY),
        config.table("lead_scores").read(spark).orderBy(KEY),
        ignore_nullable=True,
    )


def test_a_bad_file_stops_the_live_query_and_nothing_is_committed(spark, registry, tmp_path):
    config = lakehouse_with_model(registry, tmp_path)
    land(config, "a.csv", new_leads(5, seed=15, first=975_000))
    shutil.copy(load_fixture("bad_not_utf8.csv"), config.landing)
    with pytest.raises(LeadscoreError, match="bad_not_utf8.csv: line 3 has bytes that are not UTF-8"):
        realtime.run(spark, config, config.landing, available_now=True)
    for logical in (*INGESTED, "score_events"):  # created empty when the query started
        assert config.table(logical).read(spark).count() == 0, logical


def test_the_view_never_shows_a_lead_twice_nor_goes_back_while_the_queries_run(spark, registry, tmp_path):
    """Read over and over while files land and the scores query MERGEs every second: at no read a lead twice, and
    no lead's event older than one a read before showed (a late event, landed an hour ago, never shows). Read by
    delta-rs, as the console reads, and by Spark, as `leadscore queue` does."""
    config = lakehouse_with_model(registry, tmp_path, **{"stream.merge_every_seconds": 1.0})
    leads = new_leads(40, seed=16, first=980_000)
    reader = DeltaLakeReader(config)
    newest: dict[str, tuple] = {}
    problems: list[tuple] = []
    reads = {"delta-rs": 0, "spark": 0}
    stop = threading.Event()

    def read_once(by: str) -> None:
        if by == "spark":
            view = read_live(spark, config).select(KEY, *ORDER).toPandas()
        else:
            view = reader.query(f"SELECT {KEY}, {', '.join(ORDER)} FROM {data.live_scores(reader)}")
        problems.extend(("twice", by, lead) for lead in view.loc[view[KEY].duplicated(), KEY])
        view["event_ts"] = pd.to_datetime(view["event_ts"], utc=True)  # delta-rs gives UTC, Spark naive UTC
        for shown in view.itertuples(index=False):
            order = (shown.event_ts, shown.event_file, shown.event_seq)
            if order < newest.get(shown.prospect_id, order):
                problems.append(("went back", by, shown.prospect_id, order, newest[shown.prospect_id]))
            newest[shown.prospect_id] = max(order, newest.get(shown.prospect_id, order))
        reads[by] += 1

    def watch() -> None:
        try:
            while not stop.is_set():
                if reader.exists("score_events") and reader.exists("lead_scores"):
                    read_once("spark" if sum(reads.values()) % 4 == 3 else "delta-rs")
        except Exception as error:  # a read that fails fails the test
            problems.append(("failed", repr(error)))

    watcher = threading.Thread(target=watch)
    queries = realtime.start(spark, config, config.landing)
    watcher.start()
    try:
        now = time.time()
        for i in range(4):
            follow_ups = [follow_up(leads[j], 30 + i) for j in range(i)]
            land(config, f"f{i}.csv", leads[i * 10 : (i + 1) * 10] + follow_ups, now - 40 + i)
            time.sleep(2)
        land(config, "late.csv", [follow_up(leads[0], 5)], now - 3600)  # older than every event of lead 0
        realtime.drain(queries)
        time.sleep(2)  # MERGEs and reads after the last live batch
    finally:
        stop.set()
        watcher.join()
        for query in queries:
            query.stop()
    assert not problems, problems[:5]
    assert reads["delta-rs"] >= 5 and reads["spark"] >= 1, reads
    assert not newest[leads[0][0]][1].endswith("late.csv"), "the late event showed"
    assert_each_event_scored_once(spark, config)
    # Drained: the view is lead_scores, to the row.
    assert_df_equality(
        read_live(spark, config).orderBy(KEY),
        config.table("lead_scores").read(spark).orderBy(KEY),
        ignore_nullable=True,
    )
