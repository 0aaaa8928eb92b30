"""Profile a real lead export (facts, not rows) for the synthetic generator: rates, frequencies, quantiles.

Regenerate the committed profile with
`leadscore calibrate --input ../shared/data/leads.csv --out src/leadscore/synthetic/profile.json`.
The profile holds no Prospect ID, no Lead Number and no row. No Spark session is started.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.synthetic.calibration import calibrate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="the real export: a CSV with the 37 source columns")
    parser.add_argument("--out", required=True, help="where to write the profile (JSON)")


def run(args: argparse.Namespace, config: Config) -> dict:
    if not Path(args.input).is_file():
        raise LeadscoreError(f"--input {args.input} is not a file")
    profile = calibrate(args.input, args.out)
    return {"input": args.input, "out": args.out, "rows": profile["rows"], "conversion": profile["conversion_rate"]}
