"""One SparkSession for the whole run; each test gets its own lakehouse folder. A lakehouse with a registered model
is trained once per run and shared (tests that change its registry work on a copy)."""

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

from leadscore import silver
from leadscore.config import Config, load_config
from leadscore.jobs import score_batch
from leadscore.spark import get_spark
from tests.tiny_training import SEED, train_tiny

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
REAL_SAMPLE = ROOT.parent / "shared" / "data" / "leads.csv"
AUTO_COMPACTION = "spark.databricks.delta.autoCompact.enabled"


def load_fixture(name: str) -> Path:
    path = FIXTURES / name
    assert path.exists(), f"missing fixture {path}"
    return path


def config_for(lakehouse: Path, **overrides) -> Config:
    return load_config("local", overrides={"lakehouse": str(lakehouse), "spark.ui": False, **overrides})


@contextmanager
def session_setting(spark, key: str, value: str) -> Iterator[None]:
    """The session's `key` set to `value` while the block runs, then as it was."""
    before = spark.conf.get(key, None)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        spark.conf.set(key, before) if before is not None else spark.conf.unset(key)


def without_auto_compaction(spark):
    """A table's versions exactly as the block's writes make them. lead_scores has Delta's auto compaction on, which
    adds an OPTIMIZE version after a write it finds worth compacting (the first write of a table in a process that
    made several files, then every 50 small files): tests that name versions build their table without it; auto
    compaction itself is tested in tests/scoring/test_merge.py."""
    return session_setting(spark, AUTO_COMPACTION, "false")  # the session's setting overrides the table's property


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


@pytest.fixture(scope="session")
def silver_sample(spark):
    """The generated fixture's leads, parsed and checked by bronze and silver (as score-batch does)."""
    checked = score_batch.checked_rows(spark, str(load_fixture("generated_small.csv")), "utf-8")
    return silver.silver_rows(checked).cache()


@pytest.fixture(scope="session")
def trained_lakehouse(spark, silver_sample, tmp_path_factory):
    """A lakehouse whose silver holds the fixture and whose model `leadscore train` registered (tiny candidates)."""
    lakehouse = tmp_path_factory.mktemp("trained") / "lakehouse"
    config = config_for(lakehouse)
    config.table("silver_leads").save(silver_sample.write.mode("overwrite"))
    result = train_tiny("--lakehouse", str(lakehouse), "--seed", str(SEED), "--git-commit", "abc123")
    return config, result
