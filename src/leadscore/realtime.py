"""The real-time path as two queries: ingest (landing -> bronze + silver) and scores (silver -> gold.lead_scores).

Each has its own checkpoint and runs the same code as the batch commands: `leadscore ingest` is the ingest query
with an availableNow trigger, and the bundle's score_stream job runs only the scores query (no landing source).
"""

from __future__ import annotations

import logging

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from leadscore import ingest, scores
from leadscore.config import Config
from leadscore.streams import await_query, progress_logged, user_error

log = logging.getLogger("leadscore")


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


def start(spark: SparkSession, config: Config, source: str | None) -> list[StreamingQuery]:
    """Starts the queries on processing-time triggers (ingest only with a landing source); they run until stopped."""
    queries = [ingest.start(spark, config, source, available_now=False)] if source else []
    ingest.create_tables(spark, config)  # the scores query streams from silver, which must exist
    return [*queries, scores.start_stream(spark, config, available_now=False)]


def drain(queries: list[StreamingQuery]) -> None:
    """Returns once every query, upstream first, has processed all that was available to it."""
    for query in queries:
        query.processAllAvailable()


def run(spark: SparkSession, config: Config, source: str | None, *, available_now: bool) -> None:
    """availableNow drains what has landed, query after query, and returns; otherwise they run until stopped."""
    with progress_logged(spark):
        if not available_now:
            _run_until_stopped(spark, start(spark, config, source))
            return
        if source:
            await_query(ingest.start(spark, config, source, available_now=True))
        ingest.create_tables(spark, config)
        await_query(scores.start_stream(spark, config, available_now=True))
