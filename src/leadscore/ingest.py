"""Landing -> bronze -> silver as two availableNow streams: each new file once, every row accounted for."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from leadscore import bronze, silver
from leadscore.config import Config
from leadscore.streams import await_query, progress_logged

log = logging.getLogger("leadscore")


def run_counts(spark: SparkSession, config: Config, since: datetime) -> dict[str, int]:
    """What this run committed: rows stamped by batches that ran after it started (a replayed batch included)."""
    new_bronze = config.table("bronze_leads").read(spark).where(F.col("_ingested_at") >= F.lit(since))
    files, rows, repaired = new_bronze.agg(
        F.count_distinct("_source_file"), F.count(F.lit(1)), F.count("_repair")
    ).first()

    def processed(logical: str) -> int:
        return config.table(logical).read(spark).where(F.col("_processed_at") >= F.lit(since)).count()

    return {
        "files": files,
        "rows_read": rows,
        "bronze": rows,
        "silver": processed("silver_leads"),
        "quarantined": processed("quarantine"),
        "duplicates": processed("duplicates"),
        "repaired": repaired,
    }


def ingest(spark: SparkSession, config: Config, source: str) -> dict[str, int]:
    bronze.check_landing(spark, source)
    since = datetime.now(UTC)
    bronze.create_table(spark, config)
    with progress_logged(spark):
        log.info("bronze: ingesting new files from %s", source)
        max_files = config.stream.ingest_max_files_per_trigger
        await_query(bronze.start_stream(spark, config, source, available_now=True, max_files_per_trigger=max_files))
        log.info("silver: typing, checking and de-duplicating new bronze rows")
        await_query(silver.start_stream(spark, config, available_now=True))
    return run_counts(spark, config, since)
