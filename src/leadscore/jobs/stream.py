"""Score leads as their activity lands: landing -> bronze + silver, scored into gold.score_events (the live query),
where the agents' view shows them; silver MERGEd into gold.lead_scores on its own cadence (the scores query).

With --source (or a Kafka topic: --kafka-bootstrap, --topic, or conf source:) both queries run; without one only the
scores query (silver -> gold), as the bundle's score_stream job does; --no-merge runs only the live query, as the
bundle's ingest job does. Runs until stopped with processing-time triggers, or drains what has landed and exits with
--available-now. The model is reloaded between micro-batches when a newer one is published.
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
    add_source_arguments(
        parser, "landing folder of CSV exports to ingest and score live (default: conf source:, else MERGE silver only)"
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--trigger-seconds", type=float, help="live query's micro-batch interval (default: conf stream.trigger_seconds)"
    )
    when.add_argument("--available-now", action="store_true", help="process what has landed, then exit")
    parser.add_argument(
        "--merge-every-seconds",
        type=float,
        help="interval of the MERGE into gold.lead_scores (default: conf stream.merge_every_seconds)",
    )
    parser.add_argument(
        "--no-merge", dest="merge", action="store_false", help="only the live query (another process MERGEs)"
    )
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
            "stream.merge_every_seconds": args.merge_every_seconds,
            "stream.max_files_per_trigger": args.max_files_per_trigger,
            "ingest.encoding": args.encoding,
            "model.feature_set": args.feature_set,
            "stream.shadow_challenger": args.shadow_challenger,
            **source_overrides(args),
        }
    )


def run(args: argparse.Namespace, config: Config) -> dict:
    spark = get_spark(config.stream_spark, "leadscore-stream", spark_ml=True)
    source = source_of(args.source, config)
    realtime.run(spark, config, source, available_now=args.available_now, merge=args.merge)
    table, events = config.table("lead_scores"), config.table("score_events")
    return {
        "lead_scores": table.location,
        "leads": table.read(spark).count(),
        "version": table.latest_version(spark),
        "score_events": events.read(spark).count() if events.exists(spark) else 0,
    }


main = entry_point("stream")
