"""Start the agents' console (Streamlit) against the lakehouse and print its local URL; runs until interrupted.

Pages: the call queue, a lead's history, pipeline health, the model, drift. Locally it reads the Delta tables under
--lakehouse with delta-rs (no JVM); in the Databricks App (resources/console.app.yml) a SQL warehouse, with the
catalog and schema of the bundle job named by --settings-job.
"""

from __future__ import annotations

import argparse
import os

from leadscore.config import Config, config_from
from leadscore.console import launch

SETTINGS_JOB_ENV = "LEADSCORE_SETTINGS_JOB_ID"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, help="port to serve on (default: Streamlit's, 8501)")
    parser.add_argument(
        "--settings-job",
        default=os.environ.get(SETTINGS_JOB_ENV),
        help=f"Databricks job whose --env/--catalog/--schema the console uses (default: ${SETTINGS_JOB_ENV}, which "
        "the App's job resource sets)",
    )


def run(args: argparse.Namespace, config: Config) -> None:
    if args.settings_job:
        args = launch.settings_from(launch.job_parameters(args.settings_job))
        config = config_from(args)
    port = args.port if getattr(args, "port", None) else int(os.environ.get("STREAMLIT_SERVER_PORT", 8501))
    print(f"leadscore console: http://localhost:{port} ({config.storage} storage, {config.console.reader} reader)")
    launch.serve(launch.streamlit_argv(launch.app_arguments(args, config), port))
