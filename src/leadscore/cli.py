"""`leadscore <command>`: parses flags into the typed config, builds the session, runs one job.

Each job module in leadscore.jobs declares `add_arguments(parser)` and `run(args, config)`; what `run` returns is
printed as the last line of output, one JSON object, so scripts can read a run's figures. A command whose stdout
carries data (CSV or JSON rows) sets `data_on_stdout(args)`: its summary then goes to stderr, and stdout is only data.
A job that ran but found what should fail its run (a drift breach) raises CheckFailed: its result is printed all the
same and the exit status is 1, so a scheduled job run fails visibly.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence

from leadscore.config import add_config_arguments, config_from
from leadscore.errors import CheckFailed, LeadscoreError

# command -> module under leadscore.jobs
COMMANDS: dict[str, str] = {
    "calibrate": "calibrate",
    "generate": "generate",
    "ingest": "ingest",
    "score-batch": "score_batch",
    "train": "train",
    "retrain": "retrain",
    "models": "models",
    "promote": "promote",
    "simulate": "simulate",
    "history": "history",
    "scores": "scores",
    "diff": "diff",
    "queue": "agent_queue",
    "stream": "stream",
    "demo": "demo",
    "monitor": "monitor",
    "console": "console",
}

log = logging.getLogger("leadscore")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leadscore", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for command, module_name in COMMANDS.items():
        module = importlib.import_module(f"leadscore.jobs.{module_name}")
        job = sub.add_parser(command, help=module.__doc__.splitlines()[0], description=module.__doc__)
        add_config_arguments(job)
        module.add_arguments(job)
        job.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    log.setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    status = 0
    try:
        result = args.run(args, config_from(args))
    except LeadscoreError as error:
        print(f"leadscore {args.command}: error: {error}", file=sys.stderr)
        return 2
    except CheckFailed as failed:
        print(f"leadscore {args.command}: {failed}", file=sys.stderr)
        result, status = failed.result, 1
    if result is not None:
        data_on_stdout = getattr(args, "data_on_stdout", lambda _: False)(args)
        print(json.dumps(result, default=str), file=sys.stderr if data_on_stdout else sys.stdout, flush=True)
    return status


def entry_point(command: str) -> Callable[[], None]:
    """A console script (`leadscore-<job>`) for one command: what bundle jobs and spark-submit call."""

    def job_main() -> None:
        sys.exit(main([command, *sys.argv[1:]]))

    return job_main


if __name__ == "__main__":
    sys.exit(main())
