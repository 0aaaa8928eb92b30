"""How `leadscore console` starts the app: the configuration flags it hands the app, and, in the Databricks App,
where it finds them (the parameters of one of the bundle's jobs, so the App reads the tables those jobs write)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from leadscore.config import Config, add_config_arguments
from leadscore.errors import LeadscoreError

APP = Path(__file__).resolve().parent / "app.py"
CONFIG_FLAGS = ("env", "conf_dir", "catalog", "schema", "checkpoints", "models")


def app_arguments(args: argparse.Namespace, config: Config) -> list[str]:
    """The config flags given to `leadscore console`, for the app script to load the same Config (the lakehouse as
    an absolute path, so the app does not depend on the folder Streamlit runs in)."""
    flags = [f"--{name.replace('_', '-')}={getattr(args, name)}" for name in CONFIG_FLAGS if getattr(args, name, None)]
    return [*flags, f"--lakehouse={config.lakehouse}"] if config.storage == "path" else flags


def job_parameters(job_id: str, workspace=None) -> list[str]:
    """The first wheel task's parameters of a bundle job, as deployed (bundle variables resolved)."""
    if workspace is None:
        from databricks.sdk import WorkspaceClient

        workspace = WorkspaceClient()
    job = workspace.jobs.get(job_id=int(job_id))
    for task in job.settings.tasks or []:
        if task.python_wheel_task is not None:
            return list(task.python_wheel_task.parameters or [])
    raise LeadscoreError(f"job {job_id} has no python_wheel_task to take the console's settings from")


def settings_from(parameters: Sequence[str]) -> argparse.Namespace:
    """The config flags among a job's parameters (its own flags are ignored)."""
    parser = argparse.ArgumentParser(add_help=False)
    add_config_arguments(parser)
    known, _ = parser.parse_known_args(list(parameters))
    return known


def streamlit_argv(app_args: Sequence[str], port: int | None) -> list[str]:
    """`streamlit run` of the app: headless (no browser to open), no usage statistics sent, the toolbar of a viewer
    (no Deploy button). It listens on localhost unless the environment names an address (the Databricks App does:
    STREAMLIT_SERVER_ADDRESS), which also keeps Streamlit from looking up the machine's external address."""
    server = ["--server.headless=true", "--browser.gatherUsageStats=false", "--client.toolbarMode=viewer"]
    if not os.environ.get("STREAMLIT_SERVER_ADDRESS"):
        server.append("--server.address=localhost")
    if port is not None:
        server.append(f"--server.port={port}")
    return ["streamlit", "run", str(APP), *server, "--", *app_args]


def serve(argv: list[str]) -> None:
    """Runs Streamlit in this process until it is stopped."""
    from streamlit.web import cli as streamlit_cli

    sys.argv = argv
    streamlit_cli.main()
