"""One process, three chained streams: landing -> bronze -> silver -> gold.lead_scores, each with its checkpoint."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from leadscore import bronze, scores, silver
from leadscore.config import Config
from leadscore.streams import await_query, progress_logged, user_error

log = logging.getLogger("leadscore")


def _starters(
    spark: SparkSession, config: Config, source: str, available_now: bool
) -> list[Callable[[], StreamingQuery]]:
    return [
        lambda: bronze.start_stream(
            spark,
            config,
            source,
            available_now=available_now,
            max_files_per_trigger=config.stream.ingest_max_files_per_trigger,
        ),  # fmt: skip
        lambda: silver.start_stream(spark, config, available_now=available_now),
        lambda: scores.start_stream(spark, config, available_now=available_now),
    ]


def _run_until_stopped(spark: SparkSession, queries: list[StreamingQuery]) -> None:
    """Runs until a query fails (then stops the others and raises) or the user interrupts (then stops them all)."""
    try:
        spark.streams.awaitAnyTermination()
    except KeyboardInterrupt:
        log.info("stopping the streams")
    except Exception as error:
        raise user_error(error) or error from None
    finally:
        for query in queries:
            query.stop()


def start(spark: SparkSession, config: Config, source: str) -> list[StreamingQuery]:
    """Starts the three queries on processing-time triggers; they run until stopped."""
    bronze.check_landing(spark, source)
    bronze.create_table(spark, config)
    return [begin() for begin in _starters(spark, config, source, available_now=False)]


def drain(queries: list[StreamingQuery]) -> None:
    """Returns once every query, upstream first, has processed all that was available to it."""
    for query in queries:
        query.processAllAvailable()


def run(spark: SparkSession, config: Config, source: str, *, available_now: bool) -> None:
    """availableNow drains what has landed, stage after stage, and returns; otherwise the streams run until stopped."""
    with progress_logged(spark):
        if not available_now:
            _run_until_stopped(spark, start(spark, config, source))
            return
        bronze.check_landing(spark, source)
        bronze.create_table(spark, config)
        for begin in _starters(spark, config, source, available_now=True):
            await_query(begin())
