"""The scores query (silver -> gold.lead_scores): new leads, follow-ups, late events, several events of a lead in a
batch; and `leadscore stream` end to end, landing files -> gold.lead_scores: a champion swapped while it runs, kill -9
at every point of a batch, one writer per lakehouse."""

from __future__ import annotations

import logging
import os
import shutil
import time
from functools import partial
from pathlib import Path

import psutil
import pytest
from chispa import assert_df_equality

from leadscore import cli, realtime
from leadscore.console.reader import DeltaLakeReader
from leadscore.ingest import query as ingest_query
from leadscore.ingest import silver
from leadscore.lifecycle import tracking
from leadscore.lifecycle.registry import CHALLENGER, model_name, move_alias
from leadscore.monitoring import batches
from leadscore.scoring import merge as scores_merge
from leadscore.scoring import query as scores_query
from leadscore.synthetic.generator import generate_chunks, write_csv
from tests.helpers.lakehouse import config_for
from tests.helpers.processes import kill_when

# batch_id is left out: which silver files make up a micro-batch may differ between two runs.
SCORE_COLUMNS = ("prospect_id", "score", "prediction", "priority", "model_version", "event_ts", "event_seq")


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


def stable(df):
    return df.select(*SCORE_COLUMNS).orderBy("prospect_id")


def land_kill_traffic(config, landed_at: float) -> None:
    """Three files of 20 new leads and a follow-up each, landed a second apart."""
    leads = new_leads(60, seed=12, first=940_000)
    for i in range(3):
        land(config, f"f{i}.csv", leads[i * 20 : (i + 1) * 20] + [follow_up(leads[i], 40 + i)], landed_at + i)


def merges(spark, config) -> list:
    return [r for r in config.table("lead_scores").history(spark).collect() if r["operation"] == "MERGE"]


@pytest.fixture(scope="module")
def uninterrupted(spark, registry, tmp_path_factory):
    """The kill tests' traffic through a run nothing interrupts: what each killed and resumed run must end as."""
    landed_at = time.time() - 100
    clean = lakehouse_with_model(registry, tmp_path_factory.mktemp("uninterrupted"))
    land_kill_traffic(clean, landed_at)
    realtime.run(spark, clean, clean.landing, available_now=True)
    return landed_at, stable(scores_of(spark, clean)), len(merges(spark, clean))


BATCH_PLANNED = "_checkpoints/lead_scores/offsets/0"
MERGE_COMMITTED = f"gold/lead_scores/_delta_log/{1:020d}.json"
BATCH_DONE = "_checkpoints/lead_scores/commits/0"


# Where each run is killed and what must not exist yet. Each run after the first replays the batch the one before was
# killed in: planned, then its MERGE committed but not the checkpoint, then fully committed.
KILL_POINTS = [
    (BATCH_PLANNED, [MERGE_COMMITTED, BATCH_DONE]),
    (MERGE_COMMITTED, [BATCH_DONE]),
    (BATCH_DONE, []),
]


def a_second_writer_stops_at_once_naming_the_first(config, first, capsys) -> None:
    """While `first` streams on the lakehouse, another stream or ingest of it stops at once, naming the first."""
    for argv in (["stream", "--source", config.landing], ["stream"], ["ingest", "--source", config.landing]):
        assert cli.main([*argv, "--lakehouse", config.lakehouse]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and f"is already running (pid {first.pid} on " in error[0], error
        assert "one writer per lakehouse" in error[0]
    jvms = [p for p in psutil.Process(first.pid).children(recursive=True) if p.name() == "java"]
    assert [f"-Xmx{config.stream.driver_memory}" in p.cmdline() for p in jvms] == [True], "the stream's own heap"


def test_stream_killed_at_every_point_of_a_batch_ends_as_an_uninterrupted_run_and_has_no_second_writer(
    spark, registry, uninterrupted, tmp_path, capsys
):
    """Each run is a `leadscore stream` process killed with SIGKILL; the first, stopped where it is killed, is also
    the running stream a second writer of the lakehouse meets."""
    landed_at, expected_scores, expected_merges = uninterrupted
    killed = lakehouse_with_model(registry, tmp_path)
    land_kill_traffic(killed, landed_at)

    command = ["stream", "--available-now", "--source", killed.landing, "--lakehouse", killed.lakehouse]
    second_writer = partial(a_second_writer_stops_at_once_naming_the_first, killed, capsys=capsys)
    for run, (kill_at, not_yet) in enumerate(KILL_POINTS):
        kill_when(command, Path(killed.lakehouse) / kill_at, paused=second_writer if run == 0 else None)
        assert not any((Path(killed.lakehouse) / path).exists() for path in not_yet), "killed too late"

    realtime.run(spark, killed, killed.landing, available_now=True)
    assert_df_equality(stable(scores_of(spark, killed)), expected_scores)
    assert len(merges(spark, killed)) == expected_merges, "a replayed batch added a version"
    recorded = batches.from_history(DeltaLakeReader(killed).history("lead_scores"))
    assert len(recorded) == expected_merges and not recorded.duplicated(["query_id", "batch_id"]).any()
