"""Replay leads into a landing folder as files over time (or into a Kafka topic as bursts of messages), with
follow-up activity of leads already seen.

New leads come from an export CSV (e.g. the held-out part) or are generated fresh; a share of each file's rows
are follow-ups (same lead, more visits and time on site, a new last activity) of leads from earlier files or from
--seen, so the stream's MERGE updates scores as well as inserting them. Same arguments, same files (or messages):
with --kafka-bootstrap and --topic each row is one message, a JSON object keyed by the export's header names, its
key the prospect id. No Spark session is started.
"""

from __future__ import annotations

import argparse

from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.synthetic.simulator import GENERATED, Topic, replay


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help=f"an export CSV, or '{GENERATED}' for fresh synthetic leads")
    parser.add_argument("--files", type=int, required=True, help="files (or bursts of messages) to replay the leads as")
    parser.add_argument(
        "--interval-seconds", type=float, default=0.0, help="pause between files (default: 0, back to back)"
    )
    into = parser.add_mutually_exclusive_group(required=True)
    into.add_argument("--landing", help="landing folder the stream reads (created if missing)")
    into.add_argument("--kafka-bootstrap", metavar="HOST:PORT", help="send to a Kafka topic instead, at these brokers")
    parser.add_argument("--topic", help="the Kafka topic (with --kafka-bootstrap)")
    parser.add_argument("--rows", type=int, help="new leads: required with generated; else the export's first rows")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--follow-up-share",
        type=float,
        default=0.2,
        help="share of each file's rows that are follow-ups (default: 0.2)",
    )
    parser.add_argument("--seen", help="export CSV of leads already ingested, which follow-ups may also come from")


def run(args: argparse.Namespace, config: Config) -> dict:
    if bool(args.kafka_bootstrap) != bool(args.topic):
        raise LeadscoreError("--kafka-bootstrap and --topic go together")
    return replay(
        args.source,
        Topic(args.kafka_bootstrap, args.topic) if args.kafka_bootstrap else args.landing,
        args.files,
        args.interval_seconds,
        rows=args.rows,
        follow_up_share=args.follow_up_share,
        seed=args.seed,
        seen=args.seen,
    )
