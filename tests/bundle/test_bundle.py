"""The asset bundle: offline checks pass, catch what they claim to, and the jobs' entry points and flags exist."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import bundle_check
import pytest
import yaml

from leadscore import cli
from tests.helpers.bundle import reference_values, wheel_tasks

ROOT = bundle_check.ROOT
MAKEFILE = dict(re.findall(r"^(\w+) := (.+)$", (ROOT / "Makefile").read_text(), re.M))
CLI_VERSION = MAKEFILE["DATABRICKS_CLI_VERSION"]
DATABRICKS = ROOT / MAKEFILE["DATABRICKS"].replace("$(DATABRICKS_CLI_VERSION)", CLI_VERSION)
SHARED_SCHEMA = ROOT / MAKEFILE["BUNDLE_SCHEMA"].replace("$(DATABRICKS_CLI_VERSION)", CLI_VERSION)


def test_bundle_passes_offline_checks():
    assert bundle_check.errors() == []


def test_cli_and_job_model_pins_agree():
    """The job model make validate checks against is generated from the CLI version the Makefile installs."""
    assert importlib.metadata.version("databricks-bundles") == CLI_VERSION


def _broken_copy(tmp_path: Path, edit) -> Path:
    for name in ("databricks.yml", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "resources", tmp_path / "resources")
    path = tmp_path / "resources" / "ingest.job.yml"
    doc = yaml.safe_load(path.read_text())
    config = yaml.safe_load((tmp_path / "databricks.yml").read_text())
    edit(config, doc["resources"]["jobs"]["ingest"])
    path.write_text(yaml.safe_dump(doc))
    (tmp_path / "databricks.yml").write_text(yaml.safe_dump(config))
    return tmp_path


def _task(job: dict) -> dict:
    return job["tasks"][0]


MISTAKES = {
    "unknown job key": (lambda c, j: j.update(max_concurent_runs=1), "Unexpected field 'max_concurent_runs'"),
    "bad enum": (lambda c, j: j["continuous"].update(pause_status="STOPPED"), "STOPPED"),
    "undeclared variable": (
        lambda c, j: _task(j)["python_wheel_task"]["parameters"].append("${var.nope}"),
        "variable 'nope' is not declared",
    ),
    "variable without value": (lambda c, j: c["targets"]["prod"]["variables"].pop("catalog"), "'catalog' has no value"),
    "unknown environment": (
        lambda c, j: _task(j).pop("job_cluster_key") and _task(j).update(environment_key="gpu"),
        "environment 'gpu' is not declared",
    ),
    "unknown job cluster": (
        lambda c, j: _task(j).update(job_cluster_key="gpu"),
        "job cluster 'gpu' is not declared",
    ),
    "unknown entry point": (
        lambda c, j: _task(j)["python_wheel_task"].update(entry_point="leadscore-nope"),
        "'leadscore-nope' is not in [project.scripts]",
    ),
    "wheel outside dist": (
        lambda c, j: _task(j).update(libraries=[{"whl": "../build/*.whl"}]),
        "not in the dist/ folder",
    ),
    "prod without permissions": (lambda c, j: c["targets"]["prod"].pop("permissions"), "needs permissions"),
    "two default targets": (lambda c, j: c["targets"]["prod"].update(default=True), "exactly one target"),
    "job declared twice": (lambda c, j: c.update(resources={"jobs": {"ingest": j}}), "more than one file"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_offline_checks_catch(tmp_path, mistake):
    edit, expected = MISTAKES[mistake]
    found = bundle_check.errors(_broken_copy(tmp_path, edit))
    assert any(expected in error for error in found), found


def test_schema_check_reports_file_and_path():
    schema = {"type": "object", "properties": {"bundle": {"type": "object"}}, "additionalProperties": False}
    found = bundle_check.check_schema(bundle_check.load(), schema)
    assert "databricks.yml: <root>: Additional properties are not allowed" in found[0]


@pytest.mark.parametrize("job", [key for key, _ in wheel_tasks()])
def test_entry_point_is_declared_and_imports(job):
    """Each task's entry point is a [project.scripts] console script of the installed package, and loads."""
    task = dict(wheel_tasks())[job]
    scripts = importlib.metadata.entry_points(group="console_scripts")
    matches = [ep for ep in scripts if ep.name == task["entry_point"] and ep.dist.name == task["package_name"]]
    assert matches, f"{task['entry_point']} is not a console script of {task['package_name']}"
    assert callable(matches[0].load())


@pytest.mark.parametrize("target", ["dev", "prod"])
@pytest.mark.parametrize("job", [key for key, _ in wheel_tasks()])
def test_parameters_are_flags_the_job_accepts(job, target):
    """Resolved for a target, a task's parameters parse with the same parser the local CLI uses."""
    values = reference_values(target)
    task = dict(wheel_tasks())[job]
    module = importlib.metadata.entry_points(group="console_scripts")[task["entry_point"]].module.rsplit(".", 1)[1]
    commands = {name: command for command, name in cli.COMMANDS.items()}
    assert module in commands, f"leadscore.jobs.{module} is not a command in leadscore.cli.COMMANDS"
    command = commands[module]
    parameters = [bundle_check.resolve(p, values) for p in task["parameters"]]
    try:
        args = cli.build_parser().parse_args([command, *parameters])
    except SystemExit:
        pytest.fail(f"{job}: `leadscore {command}` rejects {parameters}")
    assert args.env == target


def cli_schema() -> tuple[dict, str]:
    """The JSON schema `make validate` uses: the installed CLI's, else the copy beside the repository."""
    if not DATABRICKS.exists():
        subprocess.run(["make", "--no-print-directory", "databricks-cli"], cwd=ROOT, capture_output=True)
    if DATABRICKS.exists():
        schema = subprocess.run([DATABRICKS, "bundle", "schema"], cwd=ROOT, capture_output=True, check=True).stdout
        return json.loads(schema), f"Databricks CLI v{CLI_VERSION}"
    if os.environ.get("LEADSCORE_REQUIRE_DATABRICKS_CLI"):
        pytest.fail(f"Databricks CLI v{CLI_VERSION} could not be installed (make databricks-cli)")
    if SHARED_SCHEMA.is_file():
        return json.loads(SHARED_SCHEMA.read_text()), str(SHARED_SCHEMA)
    pytest.skip(f"no Databricks CLI v{CLI_VERSION} (make databricks-cli failed) and no {SHARED_SCHEMA}")


def test_every_bundle_file_passes_the_cli_json_schema():
    """Jobs, the App and databricks.yml against `databricks bundle schema` (the CLI's, or the same file beside us)."""
    schema, _ = cli_schema()
    assert bundle_check.errors(schema=schema) == []


def _broken_app(tmp_path: Path, edit) -> Path:
    for name in ("databricks.yml", "pyproject.toml", "app.yaml", "requirements.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "resources", tmp_path / "resources")
    path = tmp_path / "resources" / "console.app.yml"
    doc = yaml.safe_load(path.read_text())
    runtime = yaml.safe_load((tmp_path / "app.yaml").read_text())
    edit(doc["resources"]["apps"]["console"], runtime, tmp_path)
    path.write_text(yaml.safe_dump(doc))
    (tmp_path / "app.yaml").write_text(yaml.safe_dump(runtime))
    return tmp_path


APP_MISTAKES = {
    "unknown app key": (lambda app, run, root: app.update(command=["x"]), "Additional properties", True),
    "bad warehouse permission": (
        lambda app, run, root: app["resources"][0]["sql_warehouse"].update(permission="CAN_READ"),
        "CAN_READ",
        True,
    ),
    "valueFrom an undeclared resource": (
        lambda app, run, root: app["resources"].pop(0),
        "valueFrom 'sql-warehouse'",
        False,
    ),
    "no requirements.txt": (lambda app, run, root: (root / "requirements.txt").unlink(), "no requirements.txt", False),
}


@pytest.mark.parametrize("mistake", APP_MISTAKES)
def test_app_checks_catch(tmp_path, mistake):
    edit, expected, needs_schema = APP_MISTAKES[mistake]
    schema = cli_schema()[0] if needs_schema else None
    found = bundle_check.errors(_broken_app(tmp_path, edit), schema=schema)
    assert any(expected in error for error in found), found


def test_app_requirements_pin_what_requirements_lock_pins():
    """The App installs the same versions the tests ran with, and this project itself."""
    locked = dict(line.split("==") for line in (ROOT / "requirements.lock").read_text().split() if "==" in line)
    lines = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    pins = dict(line.split("==") for line in lines if "==" in line)
    assert pins and all(locked[name] == pinned for name, pinned in pins.items()), pins
    assert "." in lines
