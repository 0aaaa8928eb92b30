"""Every bundle job's task, run as resources/*.yml declares it, in catalog mode on the local session's metastore.

What `databricks bundle deploy` would hand each task: the same console script of the wheel, the same parameters
with the target's variables substituted. Only what a workspace provides is supplied locally: the catalog is the
session's own `spark_catalog` (in-memory, no Hive: the schema is created with a location under the test's tmp
folder, as a workspace's schema exists before the first run), `/Volumes/...` folders are folders under tmp, and
MLflow's tracking server and registry are a SQLite store (conf/dev.yml's `mlflow:` section, through
LEADSCORE_CONF_DIR, since the jobs take no MLflow flags).
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import sys
from pathlib import Path

import bundle_check
import pytest
import yaml
from chispa import assert_df_equality

from leadscore import cli
from leadscore.config import SQLITE, config_from
from leadscore.lifecycle import tracking
from leadscore.lifecycle.registry import CHAMPION, model_name, version_by_alias
from leadscore.training import candidates
from tests.helpers.bundle import LOCAL_CATALOG, command, declared_argv, in_volumes, target_variables, wheel_tasks
from tests.helpers.lakehouse import load_fixture
from tests.helpers.training import only

ROOT = bundle_check.ROOT
# The jobs are independent in the bundle (schedules, a continuous job): this is the order their data flows in.
ORDER = ("ingest", "train", "score_stream", "monitor", "retrain")
JOBS = {key: job for key, (_, job) in bundle_check.load().jobs().items()}
# The ingest job's variant that reads a Kafka topic instead of the landing volume (run against a broker in
# tests/kafka_source, not here).
KAFKA_INGEST = "ingest_kafka"


def test_topology_matches_the_two_queries():
    """ingest runs the live query over the landing volume and ingest_kafka over the topic, with its credentials named
    by a secret scope, never written in a file; both leave the MERGE to score_stream, which never starts ingestion
    (no source: silver -> gold only); all three are the stream command."""
    tasks = dict(wheel_tasks())
    ingest, score_stream = tasks["ingest"]["parameters"], tasks["score_stream"]["parameters"]
    assert ingest[ingest.index("--source") + 1] == "${var.landing_path}" and "--no-merge" in ingest
    assert (
        "--source" not in score_stream and "--kafka-bootstrap" not in score_stream and "--no-merge" not in score_stream
    )
    parameters = tasks[KAFKA_INGEST]["parameters"]
    assert parameters[-1] == "--no-merge" and "--source" not in parameters
    kafka = dict(zip(parameters[:-1:2], parameters[1:-1:2], strict=True))
    assert kafka["--kafka-bootstrap"] == "${var.kafka_bootstrap_servers}"
    assert kafka["--kafka-secret-scope"] == "${var.kafka_secret_scope}"
    assert {command(tasks[job]["entry_point"]) for job in ("ingest", KAFKA_INGEST, "score_stream")} == {"stream"}
    declared = json.dumps(list(bundle_check.load().documents().values())).lower()  # what is declared, not comments
    assert "jaas" not in declared, "a SASL login is built at run time from the secret scope, never declared"
    assert set(tasks) == {*ORDER, KAFKA_INGEST}, "place every job in ORDER"


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_parameters_resolve_to_the_targets_catalog_and_volumes(target):
    """Every reference resolves, and the jobs' config names `<catalog>.<schema>.<layer>_<table>` tables of the
    target and checkpoints in its volume (what the local run below relies on, for each target)."""
    variables = target_variables(target)
    for job, (entry_point, argv) in declared_argv(target).items():
        assert not any("${" in p for p in argv), f"{job}: unresolved {argv}"
        config = config_from(cli.build_parser().parse_args([command(entry_point), *argv]))
        assert config.storage == "catalog", job
        expected = f"{variables['catalog']}.{variables['schema']}.silver_leads"
        assert config.table("silver_leads").location == expected, job
        assert config.checkpoints == f"{variables['base_path']}/checkpoints", job


@pytest.fixture
def workspace(spark, tmp_path, monkeypatch):
    """What a workspace gives the dev target's jobs, under tmp: volumes, the schema, MLflow (see the module doc)."""
    volumes = tmp_path / "Volumes"
    variables = target_variables("dev")
    landing = Path(in_volumes(volumes, variables["landing_path"]))
    landing.mkdir(parents=True)
    # copy, not copy2: the file lands now, and its events (event_ts is the landing time) fall in monitor's window.
    shutil.copy(load_fixture("generated_small.csv"), landing)

    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    dev = yaml.safe_load((conf / "dev.yml").read_text())
    dev["mlflow"] |= {
        "tracking_uri": f"{SQLITE}{tmp_path / 'mlflow' / 'mlflow.db'}",
        "registry_uri": None,  # the tracking store's registry instead of databricks-uc
        "dfs_tmpdir": in_volumes(volumes, dev["mlflow"]["dfs_tmpdir"]),
    }
    (conf / "dev.yml").write_text(yaml.safe_dump(dev))
    monkeypatch.setenv("LEADSCORE_CONF_DIR", str(conf))

    schema = f"{LOCAL_CATALOG}.{variables['schema']}"
    assert not spark.catalog.databaseExists(schema), f"{schema} is left over from another test"
    spark.sql(f"CREATE SCHEMA {schema} LOCATION '{tmp_path / 'metastore' / variables['schema']}'")
    try:
        yield volumes
    finally:  # the session outlives the test: leave its catalog as it was
        spark.sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def run_entry_point(entry_point: str, argv: list[str], capsys) -> tuple[int, dict | None]:
    """The console script in-process, as the wheel task calls it: its exit status and the JSON of its last line."""
    main = importlib.metadata.entry_points(group="console_scripts")[entry_point].load()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", [entry_point, *argv])
        try:
            status = main()
        except SystemExit as exit:
            status = exit.code
    lines = capsys.readouterr().out.strip().splitlines()
    return status or 0, json.loads(lines[-1]) if lines else None


@pytest.mark.slow  # five whole jobs
def test_every_job_runs_as_declared_in_catalog_mode(spark, workspace, tmp_path, capsys, monkeypatch):
    """The dev target's jobs in the order their data flows; a job whose declared parameters do not run (an error,
    or a non-zero exit such as a drift breach of the fixture against itself) fails here, naming its command line.
    Training learns with one of the tests' tiny candidates: what is tested is the job's wiring, not the learners."""
    monkeypatch.setattr(candidates, "candidates", only("gbt"))
    tasks = declared_argv("dev", {"catalog": LOCAL_CATALOG})
    results = {}
    for job in ORDER:
        entry_point, argv = tasks[job]
        argv = [in_volumes(workspace, p) for p in argv]
        if "continuous" in JOBS[job]:
            # The one difference from the declaration: a continuous job's queries run without an end (their
            # triggers); here they must end for the test to go on, so they run availableNow instead.
            argv.append("--available-now")
        status, results[job] = run_entry_point(entry_point, argv, capsys)
        assert status == 0, f"{job}: `{entry_point} {' '.join(argv)}` exited {status}: {results[job]}"

    schema = target_variables("dev")["schema"]
    tables = {}
    for layer_name in ("bronze_leads", "silver_leads", "gold_lead_scores", "gold_drift"):
        name = f"{LOCAL_CATALOG}.{schema}.{layer_name}"
        assert spark.catalog.tableExists(name), f"{name} was not created"
        location = spark.sql(f"DESCRIBE DETAIL {name}").first()["location"]
        assert str(tmp_path) in location, f"{name} lives outside the test's folder: {location}"
        tables[layer_name] = spark.table(name)
        assert tables[layer_name].count() > 0, f"{name} is empty"
    silver_leads = tables["silver_leads"].select("prospect_id").distinct().count()
    scores = tables["gold_lead_scores"]
    assert scores.count() == scores.select("prospect_id").distinct().count() == silver_leads
    view = spark.table(f"{LOCAL_CATALOG}.{schema}.gold_lead_scores_live")  # the agents' view, made by the stream
    assert_df_equality(view.orderBy("prospect_id"), scores.orderBy("prospect_id"), ignore_nullable=True)

    config = config_from(cli.build_parser().parse_args([command(tasks["monitor"][0]), *tasks["monitor"][1]]))
    client = tracking.client(config)
    assert version_by_alias(client, model_name(config), CHAMPION) is not None
    assert results["retrain"]["decision"] == "skipped"  # silver has not changed since train
