"""`leadscore` commands run as processes, for the tests whose subject is the process boundary (a kill -9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def running(command_args: list[str]) -> Iterator[subprocess.Popen]:
    """`leadscore <args>` in a process group of its own, killed with SIGKILL when the block ends."""
    command = [sys.executable, "-m", "leadscore.cli", *command_args]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(markers: Path | Sequence[Path], process: subprocess.Popen, timeout: float = 300) -> None:
    """Returns once one of the markers exists."""
    markers = [markers] if isinstance(markers, Path) else list(markers)
    deadline = time.monotonic() + timeout
    while not any(m.exists() for m in markers) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert any(m.exists() for m in markers), f"the run ended before {markers}"


def kill_when(command_args: list[str], markers: Path | Sequence[Path], timeout: float = 300) -> None:
    """Runs `leadscore <args>` and kills it with SIGKILL the moment one of the markers exists."""
    with running(command_args) as process:
        wait_for(markers, process, timeout)
        assert process.poll() is None, "the run ended by itself before the kill"
