"""`python -m leadscore.console`: `leadscore console` alone, without the other commands, whose modules need Spark.

The Databricks App runs this (app.yaml): it has no pyspark, and `leadscore <command>` builds every command's parser.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from leadscore import cli
from leadscore.config import add_config_arguments
from leadscore.jobs import console


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leadscore.console", description=console.__doc__.splitlines()[0])
    add_config_arguments(parser)
    console.add_arguments(parser)
    parser.set_defaults(command="console", run=console.run)
    return cli._run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
