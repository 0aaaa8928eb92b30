"""One SparkSession for the whole run; each test gets its own lakehouse folder."""

from __future__ import annotations

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
