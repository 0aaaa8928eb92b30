"""The whole product on one machine: ingest history, train, stream the rest live, show the agents' queue.

With SPARK_REMOTE set, ingestion runs over Spark Connect and training and scoring in classic processes, as the
bundle's jobs run on Databricks.

Uses the embedded synthetic generator unless --input names a real export in the 37-column schema.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from leadscore import demo
from leadscore.config import Config, config_argv
from leadscore.errors import LeadscoreError
from leadscore.spark import get_spark, remote


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", help="a lead export CSV to use instead of generated leads")
    parser.add_argument("--rows", type=int, default=12_000, help="generated leads (default: 12000)")
    parser.add_argument("--files", type=int, default=8, help="files the streamed 30%% arrives in (default: 8)")
    parser.add_argument("--interval-seconds", type=float, default=2.0, help="between streamed files (default: 2)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--fresh", action="store_true", help="delete the lakehouse folder first")


def run(args: argparse.Namespace, config: Config) -> dict:
    lakehouse = Path(config.lakehouse)
    if args.fresh and lakehouse.exists():
        shutil.rmtree(lakehouse)
    if lakehouse.exists() and any(lakehouse.iterdir()):
        raise LeadscoreError(f"{lakehouse} is not empty: the demo needs a fresh lakehouse (add --fresh to replace it)")
    if remote() is None:
        spark = get_spark(config.spark, "leadscore-demo", spark_ml=True)
        compute = demo.ThisProcess(spark, config)
    else:  # each step on the compute its bundle job is declared on
        classic_env = demo.AsTheBundleRuns.environment()
        spark = get_spark(config.spark, "leadscore-demo")
        compute = demo.AsTheBundleRuns(spark, config, config_argv(args), classic_env)
    return demo.run(
        spark,
        config,
        compute,
        input_csv=args.input,
        rows=args.rows,
        files=args.files,
        interval_seconds=args.interval_seconds,
        seed=args.seed,
    )
