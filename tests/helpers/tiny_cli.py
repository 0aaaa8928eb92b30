"""`python -m tests.helpers.tiny_cli <argv>`: `leadscore <argv>` in a process of its own, learning with the tests'
tiny candidates (tests/helpers/training.py); the classic processes a demo over Spark Connect starts (training, the
scores query) are started the same way. The commands' own steps are unchanged: only the learners are small."""

from __future__ import annotations

import sys

from leadscore import cli, demo
from leadscore.training import candidates
from tests.helpers.training import small_candidates

classic = demo.AsTheBundleRuns._classic


def classic_with_tiny_candidates(self: demo.AsTheBundleRuns, command: str) -> tuple[list[str], dict[str, str]]:
    argv, env = classic(self, command)
    assert argv[1:3] == ["-m", "leadscore.cli"], argv
    # SPARK_TESTING gives the Connect server its free port; a classic child runs as in production, without Spark's
    # test mode (which also re-validates the plan after every optimizer rule).
    return [argv[0], "-m", __spec__.name, *argv[3:]], {k: v for k, v in env.items() if k != "SPARK_TESTING"}


if __name__ == "__main__":
    candidates.candidates = small_candidates
    demo.AsTheBundleRuns._classic = classic_with_tiny_candidates
    sys.exit(cli.main(sys.argv[1:]))
