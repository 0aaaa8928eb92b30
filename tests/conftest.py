"""One SparkSession for the whole run; each test gets its own lakehouse folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from leadscore.config import Config, load_config
from leadscore.spark import get_spark

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
REAL_SAMPLE = ROOT.parent / "shared" / "data" / "leads.csv"


def load_fixture(name: str) -> Path:
    path = FIXTURES / name
    assert path.exists(), f"missing fixture {path}"
    return path


def config_for(lakehouse: Path, **overrides) -> Config:
    return load_config("local", overrides={"lakehouse": str(lakehouse), "spark.ui": False, **overrides})


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


def wait_for(marker: Path, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), f"the run ended before {marker}"


def kill_when(command_args: list[str], marker: Path, timeout: float = 300) -> None:
    """Runs `leadscore <args>` and kills it with SIGKILL the moment `marker` exists."""
    with running(command_args) as process:
        wait_for(marker, process, timeout)
        assert process.poll() is None, "the run ended by itself before the kill"


@pytest.fixture(scope="session")
def spark():
    session = get_spark(load_config("local", overrides={"spark.ui": False}).spark, app_name="leadscore-tests")
    yield session
    session.stop()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return config_for(tmp_path / "lakehouse")


@pytest.fixture
def real_sample() -> Path:
    if not REAL_SAMPLE.is_file():
        pytest.skip(f"real sample not present at {REAL_SAMPLE}")
    return REAL_SAMPLE
