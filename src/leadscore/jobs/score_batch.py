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
import os
import sys
from pathlib import Path

from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from leadscore import bronze, ingest, silver
from leadscore.cli import entry_point
from leadscore.config import Config
from leadscore.jobs.ingest import add_encoding_argument
from leadscore.lifecycle import tracking
from leadscore.lifecycle.registry import CHAMPION, load, model_name, resolve
from leadscore.schema import KEY
from leadscore.scoring import SCORE_COLUMNS, score
from leadscore.spark import get_spark
from leadscore.streams import user_error

OUTPUT_COLUMNS = (KEY, *SCORE_COLUMNS)

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


def checked_rows(spark: SparkSession, path: str, encoding: str) -> DataFrame:
    """The file's rows parsed, typed and checked by the ingest query's own code; `_outcome` is silver or quarantine.

    A row repeated within the file is scored like any other: a re-delivery matters to the lakehouse, not here.
    Materialised (local checkpoint): a filter on `_outcome` over the unmaterialised plan is pushed down into the
    parse and the expectations, whose expressions it then inlines into each other; the plan grows to megabytes
    and takes Catalyst 30-100 s to plan, whatever the file's size (docs/performance.md).
    """
    judged = ingest.parsed_and_judged(spark.read.format("binaryFile").load(path), encoding)
    return silver.classify(
        judged.select(
            "*",
            F.lit(True).alias("_first_delivery"),
            *[F.lit(None).alias(name) for name in ("_ingested_at", "_ingest_query_id", "_ingest_batch_id")],
        )
    ).localCheckpoint()


def rejections(quarantined: DataFrame) -> list[dict]:
    """Line number and reasons (failed expectations, and what the parser found) of each rejected row."""
    rows = quarantined.orderBy("_line_number").collect()
    return [
        {"line": r["_line_number"], "reasons": [*r["_failed_expectations"], *filter(None, [r["_parse_error"]])]}
        for r in rows
    ]


def write_csv(rows: DataFrame, output: str) -> int:
    """One CSV file, written beside the target and renamed into place; `-` writes to stdout."""
    table = rows.toPandas()
    if output == "-":
        table.to_csv(sys.stdout, index=False)
        sys.stdout.flush()
        return len(table)
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    table.to_csv(temporary, index=False)
    os.replace(temporary, target)
    return len(table)


def run(args: argparse.Namespace, config: Config) -> dict:
    client = tracking.client(config)
    found = resolve(client, model_name(config, args.feature_set), version=args.version, alias=args.alias)
    spark = get_spark(config.spark, "leadscore-score-batch", spark_ml=True)
    loaded = load(client, config, found)
    source = str(Path(args.input).resolve()) if "://" not in args.input else args.input
    bronze.check_landing(spark, source)
    bronze.legacy_charsets(spark, config.ingest.encoding)
    try:
        checked = checked_rows(spark, source, config.ingest.encoding)
        rejected = rejections(silver.quarantine_rows(checked))
        scored = score(loaded.model, silver.silver_rows(checked), loaded.threshold, config.model.priority)
        written = write_csv(scored.orderBy("_line_number").select(*OUTPUT_COLUMNS), args.output)
    except PySparkException as error:
        raise user_error(error) or error from None
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


main = entry_point("score-batch")
