"""The one place a SparkSession comes from: Databricks' runtime session, spark-submit's, or a local Delta one."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from pyspark.sql import SparkSession

from leadscore.config import SparkSettings

SCALA_VERSION = "2.13"
DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def delta_artifacts() -> list[str]:
    """Maven coordinates of the Delta jars matching the installed delta-spark (pinned in requirements.lock)."""
    delta = version("delta-spark")
    return [f"io.delta:delta-spark_{SCALA_VERSION}:{delta}", f"io.delta:delta-storage:{delta}"]


def jars_dir() -> Path:
    env = os.environ.get("LEADSCORE_JARS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / ".cache" / "jars"


def local_jars() -> list[Path]:
    return [jars_dir() / f"{coord.split(':')[1]}-{coord.split(':')[2]}.jar" for coord in delta_artifacts()]


def fetch_jars() -> list[Path]:
    """Resolves the Delta jars with Maven into jars_dir(); a no-op when they are there already."""
    jars = local_jars()
    missing = [coord for coord, jar in zip(delta_artifacts(), jars, strict=True) if not jar.is_file()]
    if missing:
        jars_dir().mkdir(parents=True, exist_ok=True)
        for coord in missing:
            subprocess.run(
                [
                    "mvn",
                    "-q",
                    "-B",
                    "-Dstyle.color=never",
                    "dependency:copy",
                    f"-Dartifact={coord}",
                    f"-DoutputDirectory={jars_dir()}",
                ],
                check=True,
            )
    return jars


def on_databricks() -> bool:
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def under_spark_submit() -> bool:
    """spark-submit starts the JVM first and hands the Python driver its gateway."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def get_spark(settings: SparkSettings, app_name: str = "leadscore") -> SparkSession:
    """Databricks and spark-submit already decided the session's settings; only a local run gets ours."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if on_databricks() or under_spark_submit():
        return SparkSession.builder.appName(app_name).getOrCreate()
    # glibc gives each thread that allocates its own arena (up to 8 per core) and keeps what they freed: Spark's many
    # task, shuffle and codegen threads grow the driver's native memory well past its heap. Two arenas cap that.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")  # read by the driver JVM this session launches
    # Python workers (xgboost's training and scoring UDFs) run this interpreter, which has the pinned packages.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(app_name)
        .master(settings.master)
        .config("spark.sql.extensions", DELTA_EXTENSION)
        .config("spark.sql.catalog.spark_catalog", DELTA_CATALOG)
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.default.parallelism", str(settings.shuffle_partitions))
        .config("spark.driver.memory", settings.driver_memory)
        .config("spark.ui.enabled", str(settings.ui).lower())
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.sql.streaming.stopGracefullyOnShutdown", "true")
        # HotSpot leaves methods over 8 KB of bytecode interpreted; the generated code of the 37-column parse and
        # the expectations has such methods (1M-row ingest: 79 s without this flag, 74 s with it).
        .config("spark.driver.extraJavaOptions", "-Dderby.system.home=/tmp/leadscore-derby -XX:-DontCompileHugeMethods")
    )
    jars = local_jars()
    if all(jar.is_file() for jar in jars):
        builder = builder.config("spark.jars", ",".join(str(j) for j in jars))
    else:  # no Maven-resolved jars: let Spark's own resolver fetch them
        builder = builder.config("spark.jars.packages", ",".join(delta_artifacts()))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("FATAL")  # failures reach the caller as exceptions; no task stack traces
    return spark


if __name__ == "__main__":  # `python -m leadscore.spark fetch-jars`, called by `make setup`
    if sys.argv[1:] != ["fetch-jars"]:
        sys.exit("usage: python -m leadscore.spark fetch-jars")
    for jar in fetch_jars():
        print(jar)
