"""Scoring one lead export (the 37-column CSV) outside the lakehouse: each row parsed, typed and checked by the
ingest query's own code, so it scores exactly as it would there; rejected rows are named by line with their reasons."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession

from leadscore.config import Config
from leadscore.ingest import bronze, landing, silver
from leadscore.ingest.query import checked_file_rows
from leadscore.lifecycle.registry import LoadedModel
from leadscore.schema import KEY
from leadscore.scoring.model import SCORE_COLUMNS, score
from leadscore.streaming.queries import user_error

OUTPUT_COLUMNS = (KEY, *SCORE_COLUMNS)


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


def score_file(spark: SparkSession, config: Config, model: LoadedModel, path: str) -> tuple[DataFrame, list[dict]]:
    """The file's scored rows in input order (OUTPUT_COLUMNS), and its rejected rows by line with their reasons.

    A file that is empty, not in its encoding or has another header stops with its name (a LeadscoreError).
    """
    source = landing.normalised_source(path)
    landing.check_landing(spark, source)
    bronze.legacy_charsets(spark, config.ingest.encoding)
    try:
        checked = checked_file_rows(spark, source, config.ingest.encoding)
        rejected = rejections(silver.quarantine_rows(checked))
        scored = score(model.model, silver.silver_rows(checked), model.threshold, config.model.priority)
        return scored.orderBy("_line_number").select(*OUTPUT_COLUMNS), rejected
    except PySparkException as error:
        raise user_error(error) or error from None
