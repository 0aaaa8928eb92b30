"""One SparkSession for the whole run; each test gets its own lakehouse folder. A lakehouse with a registered model
is trained once per run and shared (tests that change its registry work on a copy)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from leadscore.config import Config, load_config
from leadscore.ingest import silver
from leadscore.ingest.query import checked_file_rows
from leadscore.spark import get_spark
from tests.helpers.lakehouse import REAL_SAMPLE, config_for, load_fixture
from tests.helpers.training import SEED, train_tiny

# The JVMs tests start (each command's, a Connect server's, spark-submit's) compile with C1 only: they are short-lived
# and their data small, so C2's compilations cost more CPU than they win back. The run's own session lives for the
# whole suite and gains from C2 once warm: it starts with the environment as it was. Production's JVMs keep both.
JAVA_TOOL_OPTIONS = "JAVA_TOOL_OPTIONS"
SHORT_JVM_OPTIONS = "-XX:TieredStopAtLevel=1"
_java_tool_options = os.environ.get(JAVA_TOOL_OPTIONS)


def pytest_configure(config: pytest.Config) -> None:
    os.environ[JAVA_TOOL_OPTIONS] = f"{_java_tool_options or ''} {SHORT_JVM_OPTIONS}".strip()


@pytest.fixture(scope="session")
def spark():
    with pytest.MonkeyPatch.context() as patch:
        if _java_tool_options is None:
            patch.delenv(JAVA_TOOL_OPTIONS)
        else:
            patch.setenv(JAVA_TOOL_OPTIONS, _java_tool_options)
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
    checked = checked_file_rows(spark, str(load_fixture("generated_small.csv")), "utf-8")
    return silver.silver_rows(checked).cache()


@pytest.fixture(scope="session")
def tiny_training(spark, silver_sample, tmp_path_factory):
    """The run's one training: a lakehouse whose silver holds the fixture and whose model `leadscore train` registered
    with the tiny candidates (version 1, champion), the job's result, and the `Trained` it published."""
    lakehouse = tmp_path_factory.mktemp("trained") / "lakehouse"
    config = config_for(lakehouse)
    config.table("silver_leads").save(silver_sample.write.mode("overwrite"))
    result, trained = train_tiny("--lakehouse", str(lakehouse), "--seed", str(SEED), "--git-commit", "abc123")
    return config, result, trained


@pytest.fixture(scope="session")
def trained_lakehouse(tiny_training):
    """The trained lakehouse's config and the job's result; tests that change its registry work on a copy."""
    config, result, _ = tiny_training
    return config, result


@pytest.fixture(scope="session")
def trained(tiny_training):
    """The candidates that training fitted, chosen, measured and published."""
    return tiny_training[2]
