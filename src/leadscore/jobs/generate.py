"""Generate synthetic leads as CSV files in the real export's format, from the committed calibration profile.

Same arguments, same bytes. Each file is written under a hidden name and renamed into place, so a stream reading
the folder never sees half a file. No Spark session is started.
"""

from __future__ import annotations

import argparse
import time

from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.synthetic.generator import generate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, required=True, help="leads to generate, in all")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--files", type=int, default=1, help="files to split the rows across (default: 1)")
    parser.add_argument("--out", required=True, help="folder for leads-00001.csv, ... (created if missing)")


def run(args: argparse.Namespace, config: Config) -> dict:
    if args.rows < 1:
        raise LeadscoreError(f"--rows must be at least 1, not {args.rows}")
    if not 1 <= args.files <= args.rows:
        raise LeadscoreError(f"--files must be between 1 and --rows ({args.rows}), not {args.files}")
    if args.seed < 0:
        raise LeadscoreError(f"--seed must not be negative, not {args.seed}")
    start = time.perf_counter()
    generate(args.rows, args.seed, args.files, args.out)
    return {"files": args.files, "rows": args.rows, "out": args.out, "seconds": round(time.perf_counter() - start, 2)}
