"""`leadscore` commands run as processes, for the tests whose subject is the process boundary: a kill -9, a JVM's
flags, a Spark Connect client (which cannot share a process with the tests' classic session)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


def connect_client_env() -> dict[str, str]:
    """The environment of a child process that is a Spark Connect client of a local server of its own
    (`SPARK_REMOTE=local`). SPARK_TESTING is PySpark's own test mode, in which that server binds a free port and the
    client asks it which: another run's server may hold the default port."""
    return {**os.environ, "SPARK_REMOTE": "local", "SPARK_TESTING": "1"}


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


def kill_when(
    command_args: list[str],
    markers: Path | Sequence[Path],
    timeout: float = 300,
    paused: Callable[[subprocess.Popen], None] | None = None,
) -> None:
    """Runs `leadscore <args>` and kills it with SIGKILL the moment one of the markers exists. With `paused`, the run
    is first stopped there (SIGSTOP: it holds what it holds, and goes no further) while `paused(process)` looks at
    it."""
    with running(command_args) as process:
        wait_for(markers, process, timeout)
        assert process.poll() is None, "the run ended by itself before the kill"
        if paused is not None:
            os.killpg(process.pid, signal.SIGSTOP)
            paused(process)
