"""Landing -> bronze -> silver end to end: exactly once per file, every row accounted for, bad input refused whole."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.errors import PySparkException
from pyspark.sql import functions as F

from leadscore import cli
from leadscore.errors import LeadscoreError
from leadscore.ingest import counts as ingest_counts
from leadscore.ingest import query as ingest_query
from leadscore.ingest.query import ingest
from leadscore.streaming.commits import BatchCommits
from leadscore.streaming.queries import await_query, user_error
from leadscore.synthetic.generator import generate
from leadscore.tables import Table
from tests.helpers.lakehouse import config_for, load_fixture, without_run_stamps
from tests.helpers.processes import kill_when

OUTCOMES = ("silver_leads", "quarantine", "duplicates")


def landing(folder: Path, *fixtures: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in fixtures:
        shutil.copy(load_fixture(name), folder / name)
    return folder


def table_counts(spark, config) -> dict[str, int]:
    return {t: config.table(t).read(spark).count() for t in ("bronze_leads", *OUTCOMES)}


def assert_every_row_accounted_for(spark, config) -> None:
    counts = table_counts(spark, config)
    assert counts["bronze_leads"] == sum(counts[t] for t in OUTCOMES)
    for logical in ("bronze_leads", *OUTCOMES):
        rows = config.table(logical).read(spark)
        assert rows.count() == rows.select("_source_file", "_line_number").distinct().count(), (
            f"{logical} repeats a row"
        )


def test_a_file_ingested_on_its_own_has_every_row_accounted_for_and_the_cli_prints_the_counts_last(
    spark, config, tmp_path, capsys
):
    """The malformed fixture named as the source, beside a file of its folder that is not ingested."""
    folder = landing(tmp_path / "in", "generated_small.csv", "malformed_rows.csv")
    argv = ["ingest", "--source", str(folder / "malformed_rows.csv"), "--lakehouse", config.lakehouse]
    assert cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {
        "files": 1, "rows_read": 18, "bronze": 18, "silver": 10, "quarantined": 7, "duplicates": 1, "repaired": 2,
    }  # fmt: skip
    assert_every_row_accounted_for(spark, config)
    quarantined = {
        r["_line_number"]: r["_failed_expectations"]
        for r in config.table("quarantine").read(spark).select("_line_number", "_failed_expectations").collect()
    }
    assert quarantined[8][0] == "row_parsed"
    assert quarantined[14] == ["total_visits_is_number"]
    assert quarantined[15] == ["opted_out_email_is_yes_or_no", "contacted_agent_is_0_or_1"]
    assert quarantined[16] == ["prospect_id_present"]
    assert config.table("duplicates").read(spark).first()["_line_number"] == 17


def test_a_rerun_ingests_nothing_twice_and_a_late_file_or_a_redelivered_one_once(spark, config, tmp_path):
    """A clean batch commits one silver file (the scores query takes silver files a trigger: one live micro-batch is
    one file, not one per task) and nothing to the other outcomes; a rerun lands nothing; a file landed long after
    newer ones is still taken; a file delivered again lands as duplicates."""
    folder = landing(tmp_path / "in", "generated_small.csv")
    first = ingest(spark, config, str(folder))
    assert (first["files"], first["bronze"], first["silver"]) == (1, 300, 300)
    silver_commit = config.table("silver_leads").history(spark, 1).first()
    assert (silver_commit["operation"], silver_commit["operationMetrics"]["numFiles"]) == ("WRITE", "1")
    for logical in ("quarantine", "duplicates"):  # created empty; an empty batch adds no version
        assert [r["operation"] for r in config.table(logical).history(spark).collect()] == ["CREATE TABLE"]
    assert ingest(spark, config, str(folder)) == dict.fromkeys(first, 0)

    late = folder / "from_last_month.csv"
    shutil.copy(load_fixture("malformed_rows.csv"), late)
    month_ago = late.stat().st_mtime - 30 * 24 * 3600  # older than Spark's default maxFileAge (a week)
    os.utime(late, (month_ago, month_ago))
    third = ingest(spark, config, str(folder))
    assert (third["files"], third["bronze"]) == (1, 18)
    assert table_counts(spark, config)["bronze_leads"] == 318
    assert_every_row_accounted_for(spark, config)

    shutil.copy(folder / "generated_small.csv", folder / "generated_small_again.csv")
    again = ingest(spark, config, str(folder))
    assert (again["bronze"], again["silver"], again["duplicates"]) == (300, 0, 300)
    assert_every_row_accounted_for(spark, config)


def test_a_backfill_batch_is_written_one_file_per_file_split(spark, config, tmp_path, monkeypatch):
    """A batch of ROWS_PER_WRITER rows or more (a backfill) is not funnelled through one writing task: each file
    split of the landing source writes its own file; an outcome with fewer rows is still one file."""
    monkeypatch.setattr(ingest_query, "ROWS_PER_WRITER", 100)
    counts = ingest(spark, config, str(landing(tmp_path / "in", "generated_small.csv", "malformed_rows.csv")))
    assert (counts["files"], counts["bronze"]) == (2, 318)

    def files_written(logical: str) -> int:
        return int(config.table(logical).history(spark, 1).first()["operationMetrics"]["numFiles"])

    assert (files_written("bronze_leads"), files_written("silver_leads"), files_written("quarantine")) == (2, 2, 1)
    assert_every_row_accounted_for(spark, config)


def parse_and_typing_compiled_together(execution) -> bool:
    """Whether the query's last micro-batch ran silver's typing in the generated method of each file's parse."""
    plan = execution.executedPlan().treeString().splitlines()
    parse = [line for line in plan if "Generate explode(_records" in line]
    typing = [line for line in plan if "AS _raw__Prospect_ID" in line]
    assert parse and typing and all("*(" in line for line in parse)  # `*(n)`: whole-stage generated code
    return all("*(" in line for line in typing)


def test_a_backfill_compiles_each_files_parse_apart_from_silvers_typing_and_a_live_query_does_not(
    spark, config, tmp_path
):
    """Compiled into the parse's method, silver's typing is dearer over a backfill; compiled apart, a live batch
    is dearer (docs/performance.md, Design choices). The setting is the query's, not the session's."""
    before = {key: spark.conf.get(key) for key in ingest_query.BACKFILL_SETTINGS}
    folder = landing(tmp_path / "in", "generated_small.csv")
    backfill = await_query(ingest_query.start(spark, config, str(folder), available_now=True))
    execution = backfill._jsq.streamingQuery().lastExecution()
    for key, value in ingest_query.BACKFILL_SETTINGS.items():
        assert execution.sparkSession().conf().get(key) == value != before[key]
        assert spark.conf.get(key) == before[key]
    assert not parse_and_typing_compiled_together(execution)

    landing(folder, "malformed_rows.csv")
    live = ingest_query.start(spark, config, str(folder), available_now=False)
    try:
        live.processAllAvailable()
        assert parse_and_typing_compiled_together(live._jsq.streamingQuery().lastExecution())
    finally:
        live.stop()


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("bad_empty.csv", "bad_empty.csv is empty"),
        ("bad_header_only.csv", "bad_header_only.csv has a header but no lead rows"),
        ("bad_other_header.csv", "bad_other_header.csv: line 1 is not the lead export's header: column 4"),
        ("bad_not_utf8.csv", "bad_not_utf8.csv: line 3 has bytes that are not UTF-8"),
    ],
)
def test_a_bad_file_stops_the_run_naming_it_with_status_2_and_nothing_is_committed(
    spark, config, tmp_path, capsys, fixture, message
):
    folder = landing(tmp_path / "in", "generated_small.csv", fixture)
    assert cli.main(["ingest", "--source", str(folder), "--lakehouse", config.lakehouse]) == 2
    assert message in capsys.readouterr().err
    for logical in ("bronze_leads", *OUTCOMES):  # not created, or created empty when the query started
        table = config.table(logical)
        assert not table.exists(spark) or table.read(spark).count() == 0


def test_the_tables_exist_once_created_and_not_as_a_missing_or_non_delta_folder(spark, config):
    bronze = config.table("bronze_leads")
    assert not bronze.exists(spark)  # no folder
    Path(bronze.location).mkdir(parents=True)
    (Path(bronze.location) / "leads.csv").write_text("not a Delta table\n")
    assert not bronze.exists(spark)  # a folder without a Delta log
    shutil.rmtree(bronze.location)
    ingest_query.create_tables(spark, config)
    ingest_query.create_tables(spark, config)  # a second time: nothing to do
    logicals = ("bronze_leads", "silver_leads", "quarantine", "duplicates")
    assert all(config.table(logical).exists(spark) for logical in logicals)
    assert [config.table(logical).latest_version(spark) for logical in logicals] == [0, 0, 0, 0]


def test_a_missing_source_is_an_error(spark, config, tmp_path):
    with pytest.raises(LeadscoreError, match="source not found: .*nowhere"):
        ingest(spark, config, str(tmp_path / "nowhere"))


def test_the_real_sample_loses_no_row(spark, config, real_sample):
    result = ingest(spark, config, str(real_sample))
    assert result["bronze"] == 7374
    assert result["silver"] + result["quarantined"] + result["duplicates"] == 7374
    assert result["silver"] + result["quarantined"] == 7374
    assert_every_row_accounted_for(spark, config)


@pytest.fixture(scope="module")
def uninterrupted(spark, tmp_path_factory):
    """Three generated files, the malformed fixture and a re-delivered copy of the first file, all one micro-batch
    (so it commits to bronze, silver, quarantine and duplicates), and the lakehouse a run nothing interrupts makes
    of them: what each killed and resumed run must end as."""
    folder = tmp_path_factory.mktemp("kill") / "in"
    first, *_ = generate(rows=3000, seed=11, files=3, out_dir=folder)
    shutil.copy(first, folder / "redelivered.csv")
    shutil.copy(load_fixture("malformed_rows.csv"), folder)
    clean = config_for(folder.parent / "clean")
    counts = ingest(spark, clean, str(folder))
    assert all(clean.table(logical).read(spark).count() for logical in OUTCOMES)
    return folder, clean, counts


def commit_file(config, logical: str, version: int) -> Path:
    return Path(config.table(logical).location.removeprefix("file:")) / "_delta_log" / f"{version:020d}.json"


def test_ingest_killed_twice_mid_batch_loses_and_duplicates_nothing_and_counts_this_run(spark, tmp_path, uninterrupted):
    """The batch's appends run at once: each run is killed the moment one of the appends it makes commits, before the
    batch's checkpoint; the second run replays the batch the first was killed in."""
    folder, clean, clean_counts = uninterrupted
    killed = config_for(tmp_path / "killed")
    batch_done = Path(ingest_query.checkpoint_for(killed, str(folder))) / "commits" / "0"
    appends = [commit_file(killed, logical, 1) for logical in ("bronze_leads", *OUTCOMES)]
    for _ in range(2):
        pending = [commit for commit in appends if not commit.exists()]
        if pending:
            kill_when(["ingest", "--source", str(folder), "--lakehouse", killed.lakehouse], pending)
            assert not batch_done.exists(), "killed too late"

    # This run's counts come from its commits: the replayed batch's rows count, whichever run committed them.
    assert ingest(spark, killed, str(folder)) == clean_counts
    assert_every_row_accounted_for(spark, killed)
    for logical in ("bronze_leads", *OUTCOMES):
        written = (without_run_stamps(lakehouse.table(logical).read(spark)) for lakehouse in (killed, clean))
        assert_df_equality(*written, ignore_row_order=True)


def test_a_reset_checkpoint_or_a_respelled_source_lands_nothing_twice(spark, config, tmp_path, monkeypatch):
    folder = landing(tmp_path / "in", "generated_small.csv", "malformed_rows.csv")
    first = ingest(spark, config, str(folder))
    before = table_counts(spark, config)
    monkeypatch.chdir(tmp_path)
    for spelling in (f"{folder}/", "in", "./in/"):  # the same stream: its checkpoint, nothing new
        assert ingest(spark, config, spelling)["bronze"] == 0

    shutil.rmtree(Path(config.lakehouse) / "_checkpoints")  # a reset: the new query meets every file again
    copy = folder / "copy_of_small.csv"  # and a new file whose contents landed before the reset
    shutil.copy(folder / "generated_small.csv", copy)
    after_reset = ingest(spark, config, str(folder))
    assert (after_reset["files"], after_reset["bronze"]) == (1, first["bronze"] - 18)
    assert after_reset["duplicates"] == after_reset["bronze"], "re-delivered contents counted as new leads"
    assert table_counts(spark, config)["silver_leads"] == before["silver_leads"]
    assert_every_row_accounted_for(spark, config)

    # A replay of the reset query's first batch (killed before its commit) still finds the earlier landings: the
    # files the checkpoint's log gives that batch are not files the query had seen before it.
    checkpoint = ingest_query.checkpoint_for(config, str(folder))
    commits = BatchCommits(checkpoint)
    assert ingest_query.EarlierLandings.for_batch(spark, config, commits, 0) is not None
    next_batch = ingest_counts.committed_batches(spark, checkpoint)
    assert ingest_query.EarlierLandings.for_batch(spark, config, commits, next_batch) is None

    # the new query has now seen every file: a rerun needs no look at bronze, and lands nothing
    assert ingest(spark, config, str(folder))["bronze"] == 0


def run_of(spark, config, source: Path) -> tuple[str, range]:
    """The ingest query's id and the batches it has committed."""
    checkpoint = ingest_query.checkpoint_for(config, str(source))
    query_id = BatchCommits(checkpoint).query_id(spark)
    return query_id, range(ingest_counts.committed_batches(spark, checkpoint))


def test_a_runs_counts_from_its_commits_are_the_rows_its_batches_stamped(spark, tmp_path):
    """Three batches (one file each), so every table has commits of several batches: counted from their commits,
    without reading a row, and from the rows, the same."""
    config = config_for(tmp_path / "lakehouse", **{"ingest.max_files_per_trigger": 1})
    folder = landing(tmp_path / "in", "generated_small.csv", "malformed_rows.csv")
    shutil.copy(folder / "generated_small.csv", folder / "redelivered.csv")
    for age, name in enumerate(("redelivered.csv", "malformed_rows.csv", "generated_small.csv")):  # taken oldest first
        landed = (folder / name).stat().st_mtime - 60 * age
        os.utime(folder / name, (landed, landed))
    counts = ingest(spark, config, str(folder))
    query_id, batches = run_of(spark, config, folder)
    assert len(batches) == 3
    from_rows = ingest_counts._counts_from_rows(spark, config, query_id, batches.start)
    assert counts == ingest_counts._counts_from_commits(spark, config, query_id, batches) == from_rows
    # The malformed fixture repeats 8 of the generated file's contents, and the copy repeats all 300 (the copy's
    # batch writes nothing to silver: no commit there, which the counts from commits must allow for).
    assert counts == {
        "files": 3, "rows_read": 618, "bronze": 618, "silver": 302, "quarantined": 7, "duplicates": 309, "repaired": 2,
    }  # fmt: skip
    silver_writes = config.table("silver_leads").history(spark).where(F.col("operation") == "WRITE").collect()
    assert {json.loads(commit["userMetadata"])["batch_id"] for commit in silver_writes} == {0, 1}


def test_counts_are_read_from_the_rows_when_history_cannot_show_every_commit_of_the_run(
    spark, config, tmp_path, monkeypatch
):
    folder = landing(tmp_path / "in", "malformed_rows.csv")
    counts = ingest(spark, config, str(folder))
    query_id, batches = run_of(spark, config, folder)
    monkeypatch.setattr(ingest_counts, "OTHER_COMMITS", 1)  # history is read one commit further back than the run
    assert ingest_counts._counts_from_commits(spark, config, query_id, batches) is not None
    # A batch without its bronze commit (one whose files bronze already held writes none).
    assert ingest_counts._counts_from_commits(spark, config, query_id, range(batches.start, batches.stop + 1)) is None

    # Another writer's commit to quarantine after the run: what is read of its history no longer reaches the run.
    spark.sql(f"ALTER TABLE {config.table('quarantine').sql_name} SET TBLPROPERTIES ('leadscore.note' = 'x')")
    assert ingest_counts._counts_from_commits(spark, config, query_id, batches) is None
    assert ingest_counts.run_counts(spark, config, query_id, batches) == counts
    assert ingest_counts.run_counts(spark, config, query_id, range(batches.stop, batches.stop)) == dict.fromkeys(
        counts, 0
    )


def test_a_query_that_wrote_all_of_bronze_does_not_read_it_and_a_run_with_nothing_new_never_does(
    spark, config, tmp_path, monkeypatch
):
    """Its history shows that the query wrote every row bronze holds, so there are no earlier landings to look for;
    once another query (another landing source) has written bronze too, they are looked for in bronze itself, by the
    first batch a run executes: a run with nothing new reads no row of bronze."""
    folder = landing(tmp_path / "in", "generated_small.csv")
    ingest(spark, config, str(folder))
    checkpoint = ingest_query.checkpoint_for(config, str(folder))
    commits, next_batch = BatchCommits(checkpoint), ingest_counts.committed_batches(spark, checkpoint)

    def no_reads(*_):
        raise AssertionError("bronze was read")

    with monkeypatch.context() as patched:
        patched.setattr(Table, "read", no_reads)
        assert ingest_query.EarlierLandings.for_batch(spark, config, commits, next_batch) is None

    other = landing(tmp_path / "other", "malformed_rows.csv")
    ingest(spark, config, str(other))
    assert not ingest_query._written_only_by(spark, config.table("bronze_leads"), commits.query_id(spark))
    earlier = ingest_query.EarlierLandings.for_batch(spark, config, commits, next_batch)
    assert earlier is not None, "bronze holds a file this query has not seen: kept out of its batches"
    with monkeypatch.context() as patched:
        patched.setattr(Table, "read", no_reads)
        assert ingest(spark, config, str(folder))["bronze"] == 0
        assert ingest(spark, config, str(other))["bronze"] == 0


def test_earlier_landings_are_collected_by_the_first_batch_that_needs_them(spark):
    """A query that starts with nothing new (a second landing source's, restarted) never reads bronze's contents."""
    read = F.raise_error(F.lit("bronze was read"))
    landed = spark.range(1).select(*[read.cast("string").alias(c) for c in ("_source_file", "_row_hash")])
    earlier = ingest_query.EarlierLandings(landed.withColumn("_file_modification_time", read.cast("timestamp")))
    batch = spark.createDataFrame([("f", None, "h", False)], "_source_file string, _file_modification_time timestamp, "
                                  "_row_hash string, _probe boolean")  # fmt: skip
    with pytest.raises(PySparkException, match="bronze was read"):
        earlier.unseen(batch)


def test_a_raised_error_is_read_from_its_condition_not_its_text(spark):
    """The whole raised message, even one holding the word its text rendering ends with (SQLSTATE)."""
    message = "file x.csv: line 2 names SQLSTATE 42000, a code, not the end of the message"
    with pytest.raises(PySparkException) as raised:
        spark.range(1).select(F.raise_error(F.lit(message))).collect()
    assert str(user_error(raised.value)) == message
