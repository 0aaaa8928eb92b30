"""Flags several jobs share."""

from __future__ import annotations

import argparse


def add_encoding_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--encoding", help="text encoding of the landing files, e.g. windows-1252 (default: conf ingest.encoding)"
    )
    parser.set_defaults(config_overrides=lambda args: {"ingest.encoding": args.encoding})


def add_source_arguments(parser: argparse.ArgumentParser, source_help: str) -> None:
    """--source (a landing folder) or a Kafka topic (--kafka-bootstrap, --topic): where the ingest query reads."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--source", help=source_help)
    where.add_argument(
        "--kafka-bootstrap", metavar="HOST:PORT", help="read a Kafka topic instead, from these brokers (conf source:)"
    )
    parser.add_argument("--topic", help="the Kafka topic (conf source.topic)")
    parser.add_argument(
        "--starting-offsets", help="where a new checkpoint starts in the topic: earliest (default), latest, or JSON"
    )
    parser.add_argument("--max-offsets-per-trigger", type=int, help="Kafka messages per ingest micro-batch")
    parser.add_argument(
        "--kafka-secret-scope", help="Databricks secret scope with the topic's SASL username and password"
    )


def source_overrides(args: argparse.Namespace) -> dict:
    return {
        "source.kind": "kafka" if args.kafka_bootstrap else None,
        "source.bootstrap_servers": args.kafka_bootstrap,
        "source.topic": args.topic,
        "source.starting_offsets": args.starting_offsets,
        "source.max_offsets_per_trigger": args.max_offsets_per_trigger,
        "source.secret_scope": args.kafka_secret_scope,
    }
