"""The real-time path as two queries: the live query (landing -> bronze + silver, each batch's new events scored
into gold.score_events, where agents see them) and the scores query (silver -> gold.lead_scores, MERGEd every
`stream.merge_every_seconds`).

Each has its own checkpoint and runs the same code as the batch commands: `leadscore ingest` is the ingest query
with an availableNow trigger and no live scoring, and the bundle runs the two queries as two jobs (ingest: the live
query; score_stream: the scores query).
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from leadscore.config import Config
from leadscore.ingest import query as ingest_query
from leadscore.ingest.sources import Source
from leadscore.scoring import query as scores_query
from leadscore.scoring.live import LiveScores
from leadscore.streaming.queries import await_query, progress_logged, user_error

log = logging.getLogger("leadscore")


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C; a job run cancelled or a process manager's stop


def _run_until_stopped(spark: SparkSession, queries: list[StreamingQuery]) -> None:
    """Runs until a query fails (then stops the others and raises), a query ends, or the process gets SIGINT or
    SIGTERM (then lets each query finish the micro-batch it is running, stops them all and returns).

    The signals set a flag rather than raise: a KeyboardInterrupt raised inside the blocking Py4J call that waits on
    the queries comes out of it as a Py4JError, and the stop would look like a failure.
    """
    stop = threading.Event()
    handlers = {}
    if threading.current_thread() is threading.main_thread():  # where Python lets a handler be set
        handlers = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in STOP_SIGNALS}
    try:
        while not stop.is_set() and not spark.streams.awaitAnyTermination(1):
            pass
    except Exception as error:
        for query in queries:
            query.stop()
        raise user_error(error) or error from None
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    log.info("stopping the streams")
    for query in queries:
        _wait_for_batch_end(query)
        query.stop()


def _wait_for_batch_end(query: StreamingQuery, timeout: float = 300) -> None:
    """Waits (bounded) for the query's running micro-batch, if any, to finish: `stop()` interrupts a batch, which
    a restart would then replay; letting it finish leaves nothing to replay."""
    deadline = time.monotonic() + timeout
    while query.isActive and query.status["isTriggerActive"] and time.monotonic() < deadline:
        time.sleep(0.1)


def start(
    spark: SparkSession, config: Config, source: str | Source | None, *, merge: bool = True
) -> list[StreamingQuery]:
    """Starts the queries on processing-time triggers: the live query with a landing source, the scores query unless
    `merge` is off (another process runs it); they run until stopped."""
    if not source:
        ingest_query.create_tables(spark, config)  # the scores query streams from silver, which must exist
    queries = [_live(spark, config, source, available_now=False)] if source else []  # creates them too
    return [*queries, *([scores_query.start(spark, config, available_now=False)] if merge else [])]


def _live(spark: SparkSession, config: Config, source: str | Source, *, available_now: bool) -> StreamingQuery:
    return ingest_query.start(spark, config, source, available_now=available_now, live=LiveScores(config))


def drain(queries: list[StreamingQuery]) -> None:
    """Returns once every query, upstream first, has processed all that was available to it."""
    for query in queries:
        query.processAllAvailable()


def run(
    spark: SparkSession, config: Config, source: str | Source | None, *, available_now: bool, merge: bool = True
) -> None:
    """availableNow drains what has landed, query after query, and returns; otherwise they run until stopped."""
    with progress_logged(spark):
        if not available_now:
            _run_until_stopped(spark, start(spark, config, source, merge=merge))
            return
        if source:
            await_query(_live(spark, config, source, available_now=True))
        else:
            ingest_query.create_tables(spark, config)
        if merge:
            await_query(scores_query.start(spark, config, available_now=True))
