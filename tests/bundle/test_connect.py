"""The bundle's jobs over Spark Connect, the way serverless compute runs them, on a local Connect server.

`SPARK_REMOTE=local` makes every `leadscore` command a Spark Connect client of a local server that has the Delta
jars and SQL extensions (leadscore.spark.get_spark). Every job of the bundle is declared on the job cluster (each
fits or loads a Spark ML pipeline) and stops at once over Connect, with its reason and exit status 2, before it
starts a server. What needs no model runs over Connect as serverless compute would run it: a backfill (`leadscore
ingest`) in catalog mode, in a process of its own (a Connect client and a classic session cannot share one Python
process), leaves the same tables as a classic run of the same files; the read commands print what a classic
session prints.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import bundle_check
import pytest
from chispa import assert_df_equality

from leadscore import cli
from leadscore.spark import SPARK_ML_NEEDS_CLASSIC
from leadscore.tables import TABLES as TABLE_SPECS
from tests.helpers.bundle import LOCAL_CATALOG, command, declared_argv, in_volumes, target_variables
from tests.helpers.lakehouse import config_for, load_fixture, without_run_stamps
from tests.helpers.lead_scores import BATCHES, build_lead_scores
from tests.helpers.processes import connect_client_env

JOBS = {key: job for key, (_, job) in bundle_check.load().jobs().items()}
SERVERLESS = sorted(key for key, job in JOBS.items() if all("environment_key" in t for t in job["tasks"]))
JOB_CLUSTER = sorted(key for key, job in JOBS.items() if all("job_cluster_key" in t for t in job["tasks"]))
TABLES = ("bronze_leads", "silver_leads", "quarantine", "duplicates")

# One process over Connect, one local server, for every test of the module. The workspace's schema exists before a
# job runs, so it is created first; then each serverless job's declared command runs, and its tables' locations
# are printed for the classic session to read; then each read command runs, its exit status and stdout kept.
CONNECT_SESSION = """
import contextlib, io, json, sys
from leadscore import cli
from leadscore.config import config_from, load_config
from leadscore.spark import get_spark

plan = json.loads(sys.argv[1])
spark = get_spark(load_config("local").spark)
spark.sql(f"CREATE SCHEMA {plan['schema']} LOCATION '{plan['schema_location']}'")
jobs = []
for argv in plan["jobs"]:
    status = cli.main(argv)
    config = config_from(cli.build_parser().parse_args(argv))
    details = {t: spark.sql(f"DESCRIBE DETAIL {config.table(t).location}").first() for t in plan["tables"]}
    jobs.append({"status": status, "tables": {
        t: {"location": d["location"], "properties": d["properties"]} for t, d in details.items()}})
reads = []
for argv in plan["reads"]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main(argv)
    reads.append([status, out.getvalue()])
print(json.dumps({"remote": type(spark).__module__, "jobs": jobs, "reads": reads}))
"""


def backfill_argv(volumes: Path) -> list[str]:
    """`leadscore ingest` (a backfill, which needs no model) with the ingest job's catalog, schema, checkpoints and
    landing volume: the flags of its declaration that the stream command alone takes are left out."""
    entry_point, argv = declared_argv("dev", {"catalog": LOCAL_CATALOG})["ingest"]
    argv = [in_volumes(volumes, p) for p in argv]
    argv.remove("--no-merge")
    at = argv.index("--feature-set")
    del argv[at : at + 2]
    return ["ingest", *argv]


@dataclass(frozen=True)
class ConnectRun:
    landing: Path  # the ingest job's landing volume, under tmp
    lead_scores: Path  # the lakehouse the read commands read, built by the production MERGE
    reads: list[list[str]]  # the read commands, in the order they ran
    report: dict  # what CONNECT_SESSION printed
    log: str  # its stderr


def read_commands(lakehouse: Path) -> list[list[str]]:
    """history, scores (time travel), queue and diff; a version the table does not have last."""
    flags = ["--lakehouse", str(lakehouse)]
    return [
        ["history", *flags, "--format", "json"],
        ["scores", *flags, "--version", "2", "--format", "csv"],
        ["queue", *flags, "--top", "3", "--format", "json"],
        ["diff", *flags, "--from", "1", "--to", "3", "--format", "json"],
        ["diff", *flags, "--from", "1", "--to", "9"],
    ]


@pytest.fixture(scope="module")
def connect_run(spark, tmp_path_factory) -> ConnectRun:
    """A backfill with the ingest job's declared flags and the read commands, in one process over Spark Connect."""
    root = tmp_path_factory.mktemp("connect")
    volumes = root / "Volumes"
    variables = target_variables("dev")
    landing = Path(in_volumes(volumes, variables["landing_path"]))
    landing.mkdir(parents=True)
    (landing / "leads.csv").write_bytes(load_fixture("generated_small.csv").read_bytes())
    jobs = [backfill_argv(volumes)]

    lakehouse = root / "lakehouse"
    build_lead_scores(spark, config_for(lakehouse), BATCHES)
    plan = {
        "schema": f"{LOCAL_CATALOG}.{variables['schema']}",
        "schema_location": str(root / "metastore"),
        "tables": TABLES,
        "jobs": jobs,
        "reads": read_commands(lakehouse),
    }
    done = subprocess.run(
        [sys.executable, "-c", CONNECT_SESSION, json.dumps(plan)],
        env=connect_client_env(), capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, f"over Connect: {done.stderr[-3000:]}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["remote"].startswith("pyspark.sql.connect"), report
    return ConnectRun(landing, lakehouse, plan["reads"], report, done.stderr)


def test_every_job_runs_on_the_job_cluster():
    """Each job fits or loads a Spark ML pipeline; the ingest job scores live with the champion."""
    assert SERVERLESS == [] and set(JOB_CLUSTER) == {
        "ingest",
        "ingest_kafka",
        "train",
        "retrain",
        "score_stream",
        "monitor",
    }


@pytest.mark.slow  # the module's process over Spark Connect
def test_a_backfill_runs_over_spark_connect_in_catalog_mode_with_a_classic_runs_tables(spark, connect_run, tmp_path):
    (report,) = connect_run.report["jobs"]
    assert report["status"] == 0, report
    classic = tmp_path / "classic"
    assert cli.main(["ingest", "--source", str(connect_run.landing), "--lakehouse", str(classic)]) == 0
    config = config_for(classic)
    for logical in TABLES:
        over_connect = spark.read.format("delta").load(report["tables"][logical]["location"])
        written = (without_run_stamps(rows) for rows in (over_connect, config.table(logical).read(spark)))
        assert_df_equality(*written, ignore_row_order=True)
        assert TABLE_SPECS[logical].table_properties.items() <= report["tables"][logical]["properties"].items()
    assert spark.read.format("delta").load(report["tables"]["silver_leads"]["location"]).count() > 0


@pytest.mark.parametrize("job", JOB_CLUSTER)
def test_job_cluster_jobs_stop_over_connect_with_their_reason(job, monkeypatch, capsys):
    monkeypatch.setenv("SPARK_REMOTE", "local")
    entry_point, argv = declared_argv("dev", {"catalog": LOCAL_CATALOG})[job]
    assert cli.main([command(entry_point), *argv]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"leadscore {command(entry_point)}: error: ") and SPARK_ML_NEEDS_CLASSIC in error
    assert "SPARK_REMOTE=local" in error and len(error.splitlines()) == 1


@pytest.mark.slow  # the module's process over Spark Connect
def test_read_commands_over_spark_connect_print_what_a_classic_session_prints(connect_run, capsys):
    """history, scores (time travel), queue and diff on a lead_scores built by the production MERGE; a version the
    table does not have is the same one-line error, exit status 2, over Connect as on a classic session."""
    classic = []
    for argv in connect_run.reads:
        status = cli.main(argv)
        classic.append([status, capsys.readouterr().out])
    assert [status for status, _ in classic] == [0, 0, 0, 0, 2]
    assert connect_run.report["reads"] == classic
    assert "leadscore diff: error: lead_scores cannot be read at version 9" in connect_run.log
