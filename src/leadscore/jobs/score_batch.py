"""Score a raw lead export (the 37-column CSV) with the champion model: prospect_id, score, prediction, priority.

The file goes through bronze's parsing and silver's typing and expectations, the very code ingestion runs, so a row
scores here exactly as it would in the lakehouse. A row that cannot be parsed or fails a quarantining expectation is
reported by line number with its reasons and never scored; a file that is empty, not UTF-8 or has another header
stops the job. The output is one CSV file, rows in input order; `--output -` (the default) writes it to stdout, and
the run's JSON summary then goes to stderr. The model is conf's feature set's registered model at `--alias`
(default champion) or `--version`, resolved to a version number once before loading.
"""

from __future__ import annotations

import argparse
import logging

from leadscore.config import Config
from leadscore.jobs.arguments import add_encoding_argument
from leadscore.lifecycle import tracking
from leadscore.lifecycle.registry import CHAMPION, load, model_name, resolve
from leadscore.scoring.batch import score_file, write_csv
from leadscore.spark import get_spark

log = logging.getLogger("leadscore")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="CSV export in the 37-column lead schema")
    parser.add_argument(
        "--output", default="-", help="CSV file to write (replaced if it exists); - for stdout (default)"
    )
    parser.set_defaults(data_on_stdout=lambda args: args.output == "-")
    parser.add_argument("--feature-set", help="whose registered model scores (default: conf model.feature_set)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--version", help="model version to score with (default: the one --alias names)")
    which.add_argument("--alias", default=CHAMPION, help="alias of the version to score with (default: champion)")
    add_encoding_argument(parser)


def run(args: argparse.Namespace, config: Config) -> dict:
    client = tracking.client(config)
    found = resolve(client, model_name(config, args.feature_set), version=args.version, alias=args.alias)
    spark = get_spark(config.spark, "leadscore-score-batch", spark_ml=True)
    loaded = load(client, config, found)
    scored, rejected = score_file(spark, config, loaded, args.input)
    written = write_csv(scored, args.output)
    for row in rejected:
        log.warning("score-batch: line %d not scored: %s", row["line"], "; ".join(row["reasons"]))
    return {
        "model": loaded.name,
        "model_version": loaded.version,
        "output": args.output,
        "scored": written,
        "rejected": len(rejected),
        "rejected_rows": rejected,
    }
