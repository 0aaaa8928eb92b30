"""Score leads as their activity lands: landing -> bronze + silver (ingest query) -> MERGE into gold.lead_scores
(scores query), exactly once.

With --source (or a Kafka topic: --kafka-bootstrap, --topic, or conf source:) both queries run; without one only
the scores query (silver -> gold), as the bundle's score_stream job does beside its ingest job. Runs until stopped
with a processing-time trigger, or drains what has landed and exits with --available-now. The model is reloaded
between micro-batches when a newer one is published.
"""

from __future__ import annotations

import argparse

from leadscore import realtime
from leadscore.cli import entry_point
from leadscore.config import Config
from leadscore.ingest.sources import source_of
from leadscore.jobs.arguments import add_encoding_argument, add_source_arguments, source_overrides
from leadscore.spark import get_spark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser, "landing folder of CSV exports to ingest too (default: conf source:, else none)")
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--trigger-seconds", type=float, help="micro-batch interval (default: conf stream.trigger_seconds)"
    )
    when.add_argument("--available-now", action="store_true", help="process what has landed, then exit")
    parser.add_argument("--max-files-per-trigger", type=int, help="silver Delta files per scoring micro-batch")
    add_encoding_argument(parser)
    parser.add_argument(
        "--feature-set", help="score with this feature set's champion (default: conf model.feature_set)"
    )
    parser.add_argument(
        "--shadow-challenger",
        action="store_true",
        default=None,
        help="also score with the challenger, into challenger_score (default: conf stream.shadow_challenger)",
    )
    parser.set_defaults(
        config_overrides=lambda args: {
            "stream.trigger_seconds": args.trigger_seconds,
            "stream.max_files_per_trigger": args.max_files_per_trigger,
            "ingest.encoding": args.encoding,
            "model.feature_set": args.feature_set,
            "stream.shadow_challenger": args.shadow_challenger,
            **source_overrides(args),
        }
    )


def run(args: argparse.Namespace, config: Config) -> dict:
    spark = get_spark(config.stream_spark, "leadscore-stream", spark_ml=True)
    realtime.run(spark, config, source_of(args.source, config), available_now=args.available_now)
    table = config.table("lead_scores")
    return {
        "lead_scores": table.location,
        "leads": table.read(spark).count(),
        "version": spark.sql(f"DESCRIBE HISTORY {table.sql_name} LIMIT 1").first()["version"],
    }


main = entry_point("stream")
