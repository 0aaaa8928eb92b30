"""Flags several jobs share."""

from __future__ import annotations

import argparse


def add_encoding_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--encoding", help="text encoding of the landing files, e.g. windows-1252 (default: conf ingest.encoding)"
    )
    parser.set_defaults(config_overrides=lambda args: {"ingest.encoding": args.encoding})
