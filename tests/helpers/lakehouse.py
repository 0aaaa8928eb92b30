"""Where tests find their inputs and lakehouses, session settings for a block, and tables compared across runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import DataFrame

from leadscore.config import Config, load_config

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
REAL_SAMPLE = ROOT.parent / "shared" / "data" / "leads.csv"
AUTO_COMPACTION = "spark.databricks.delta.autoCompact.enabled"
# Stamped by the run that wrote a row (when, by which query): two runs over the same files differ only there.
RUN_STAMPS = ("_ingested_at", "_processed_at", "_ingest_query_id", "scored_at")


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


def without_run_stamps(rows: DataFrame, *more: str) -> DataFrame:
    """A table's rows without RUN_STAMPS (and the columns in `more`), to compare what two runs wrote."""
    return rows.drop(*RUN_STAMPS, *more)
