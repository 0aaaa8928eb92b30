"""The bundle's jobs as a deployment would hand them to a task: entry points, parameters with a target's variables
substituted, and Unity Catalog volume paths mapped to local folders."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import bundle_check  # the Makefile's offline bundle checks (tests/bundle/bundle_check.py)

from leadscore import cli

# What a deployment would substitute for the bundle's own references.
BUNDLE_VALUES = {
    "bundle.name": "leadscore",
    "bundle.git.origin_url": "https://example.com/leadscore.git",
    "bundle.git.branch": "main",
    "bundle.git.commit": "0123abc",
}
# The local session's own catalog stands for the workspace's (in-memory, no Hive).
LOCAL_CATALOG = "spark_catalog"
VOLUMES = "/Volumes/"


def wheel_tasks() -> list[tuple[str, dict]]:
    return [
        (key, task["python_wheel_task"])
        for key, (_, job) in bundle_check.load().jobs().items()
        for task in job["tasks"]
        if "python_wheel_task" in task
    ]


def target_variables(target: str) -> dict[str, str]:
    return bundle_check.variable_values(bundle_check.load().config, target)


def reference_values(target: str, variables: dict[str, str] | None = None) -> dict[str, str]:
    """Every `${...}` reference a task's parameters may hold, resolved for `target` (`variables` over its own)."""
    values = {**BUNDLE_VALUES, "bundle.target": target}
    values |= {f"var.{name}": value for name, value in target_variables(target).items()}
    return values | {f"var.{name}": value for name, value in (variables or {}).items()}


def declared_argv(target: str, variables: dict[str, str] | None = None) -> dict[str, tuple[str, list[str]]]:
    """Job -> (entry point, parameters) with `target`'s variables (and `variables` over them) substituted."""
    values = reference_values(target, variables)
    return {
        job: (task["entry_point"], [bundle_check.resolve(p, values) for p in task["parameters"]])
        for job, task in wheel_tasks()
    }


def command(entry_point: str) -> str:
    """The `leadscore` command a console script runs (its module in leadscore.jobs, named in cli.COMMANDS)."""
    module = importlib.metadata.entry_points(group="console_scripts")[entry_point].module.rsplit(".", 1)[1]
    return {module_name: name for name, module_name in cli.COMMANDS.items()}[module]


def in_volumes(root: Path, value: str) -> str:
    """A Unity Catalog volume path, as the same path under `root` (other values unchanged)."""
    return str(root / value.removeprefix(VOLUMES)) if value.startswith(VOLUMES) else value
