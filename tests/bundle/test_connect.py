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
import os
import subprocess
import sys
from pathlib import Path

import bundle_check
import pytest
from chispa import assert_df_equality
from test_jobs_run import LOCAL_CATALOG, command, declared_argv, in_volumes

from leadscore import cli
from leadscore.spark import SPARK_ML_NEEDS_CLASSIC
from leadscore.tables import TABLES as TABLE_SPECS
from tests.helpers.lakehouse import config_for, load_fixture
from tests.helpers.lead_scores import BATCHES, build_lead_scores

JOBS = {key: job for key, (_, job) in bundle_check.load().jobs().items()}
SERVERLESS = sorted(key for key, job in JOBS.items() if all("environment_key" in t for t in job["tasks"]))
JOB_CLUSTER = sorted(key for key, job in JOBS.items() if all("job_cluster_key" in t for t in job["tasks"]))
# Stamped per run (when, by which query and batch): the rest of a row is what the files hold.
RUN_STAMPS = ("_ingested_at", "_processed_at", "_ingest_query_id", "_ingest_batch_id")
TABLES = ("bronze_leads", "silver_leads", "quarantine", "duplicates")

# Run in its own process over Connect: the workspace's schema exists before a job runs, so it is created first;
# then the declared command runs, and the tables' locations are printed for the classic session to read.
CONNECT_RUN = """
import json, sys
from leadscore import cli
from leadscore.config import config_from, load_config
from leadscore.spark import get_spark

schema, location, tables, argv = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4:]
spark = get_spark(load_config("local").spark)
spark.sql(f"CREATE SCHEMA {schema} LOCATION '{location}'")
status = cli.main(argv)
config = config_from(cli.build_parser().parse_args(argv))
details = {t: spark.sql(f"DESCRIBE DETAIL {config.table(t).location}").first() for t in tables}
print(json.dumps({"status": status, "remote": type(spark).__module__, "tables": {
    t: {"location": d["location"], "properties": d["properties"]} for t, d in details.items()}}))
"""


def test_every_job_runs_on_the_job_cluster():
    """Each job fits or loads a Spark ML pipeline; the ingest job scores live with the champion."""
    assert SERVERLESS == [] and set(JOB_CLUSTER) == {"ingest", "train", "retrain", "score_stream", "monitor"}


def backfill_argv(volumes: Path) -> list[str]:
    """`leadscore ingest` (a backfill, which needs no model) with the ingest job's catalog, schema, checkpoints and
    landing volume: the flags of its declaration that the stream command alone takes are left out."""
    entry_point, argv = declared_argv("dev", {"catalog": LOCAL_CATALOG})["ingest"]
    argv = [in_volumes(volumes, p) for p in argv]
    argv.remove("--no-merge")
    at = argv.index("--feature-set")
    del argv[at : at + 2]
    return ["ingest", *argv]


@pytest.mark.slow  # a Spark Connect server of its own
def test_a_backfill_runs_over_spark_connect_in_catalog_mode_with_a_classic_runs_tables(spark, tmp_path):
    volumes = tmp_path / "Volumes"
    landing = Path(in_volumes(volumes, bundle_check.variable_values(bundle_check.load().config, "dev")["landing_path"]))
    landing.mkdir(parents=True)
    (landing / "leads.csv").write_bytes(load_fixture("generated_small.csv").read_bytes())
    schema = f"{LOCAL_CATALOG}.{bundle_check.variable_values(bundle_check.load().config, 'dev')['schema']}"
    env = {**os.environ, "SPARK_REMOTE": "local"}
    done = subprocess.run(
        [sys.executable, "-c", CONNECT_RUN, schema, str(tmp_path / "metastore"), ",".join(TABLES),
         *backfill_argv(volumes)],
        env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, f"ingest over Connect: {done.stderr[-3000:]}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == 0 and report["remote"].startswith("pyspark.sql.connect"), report

    classic = tmp_path / "classic"
    assert cli.main(["ingest", "--source", str(landing), "--lakehouse", str(classic)]) == 0
    config = config_for(classic)
    for logical in TABLES:
        over_connect = spark.read.format("delta").load(report["tables"][logical]["location"]).drop(*RUN_STAMPS)
        assert_df_equality(over_connect, config.table(logical).read(spark).drop(*RUN_STAMPS), ignore_row_order=True)
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


# The read commands in one process over Connect: each command's exit status and stdout, as one JSON object.
CONNECT_READS = """
import contextlib, io, json, sys
from leadscore import cli

results = []
for argv in json.loads(sys.argv[1]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main(argv)
    results.append([status, out.getvalue()])
print(json.dumps(results))
"""


@pytest.mark.slow  # a Spark Connect server of its own
def test_read_commands_over_spark_connect_print_what_a_classic_session_prints(spark, tmp_path, capsys):
    """history, scores (time travel), queue and diff on a lead_scores built by the production MERGE; a version the
    table does not have is the same one-line error, exit status 2, over Connect as on a classic session."""
    config = config_for(tmp_path / "lakehouse")
    build_lead_scores(spark, config, BATCHES)
    lakehouse = ["--lakehouse", config.lakehouse]
    commands = [
        ["history", *lakehouse, "--format", "json"],
        ["scores", *lakehouse, "--version", "2", "--format", "csv"],
        ["queue", *lakehouse, "--top", "3", "--format", "json"],
        ["diff", *lakehouse, "--from", "1", "--to", "3", "--format", "json"],
        ["diff", *lakehouse, "--from", "1", "--to", "9"],
    ]
    classic = []
    for argv in commands:
        status = cli.main(argv)
        classic.append([status, capsys.readouterr().out])
    done = subprocess.run(
        [sys.executable, "-c", CONNECT_READS, json.dumps(commands)],
        env={**os.environ, "SPARK_REMOTE": "local"}, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    over_connect = json.loads(done.stdout.strip().splitlines()[-1])
    assert [status for status, _ in classic] == [0, 0, 0, 0, 2]
    assert over_connect == classic
    assert "leadscore diff: error: lead_scores cannot be read at version 9" in done.stderr
