"""The one place a SparkSession comes from: Databricks' runtime session, spark-submit's, or a local Delta one."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql.utils import is_remote

from leadscore.config import SparkSettings
from leadscore.errors import LeadscoreError

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


JAVA_OPTIONS = (
    "-Dderby.system.home=/tmp/leadscore-derby",
    # HotSpot leaves huge methods interpreted, and the generated code of the parse and the expectations has some.
    "-XX:-DontCompileHugeMethods",
    # The JVM in UTC like the session: Delta otherwise re-validates a commit's checksum file against a full state.
    "-Duser.timezone=UTC",
)
# Class-data sharing (leadscore.class_archive) says nothing: an archive this JVM cannot map (another class path, as a
# Spark Connect server has) is skipped, and a word about it on stdout would land in a command's CSV or JSON.
QUIET_CLASS_SHARING = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off", "-Xlog:class+path=off")
# What a micro-batch of a few dozen rows pays for, set once per session (docs/performance.md, Design choices).
SMALL_BATCH_SETTINGS = {
    # A micro-batch of both queries needs more compiled classes than Spark's default cache keeps (100).
    "spark.sql.codegen.cache.maxEntries": "2000",
    # Adaptive execution re-plans every stage at run time: planning without a gain for a micro-batch, and with two
    # shuffle partitions there is little for it to coalesce in a large batch either.
    "spark.sql.adaptive.enabled": "false",
    # The Delta log is small next to the data: one task rebuilds a table's state, not 50.
    "spark.databricks.delta.snapshotPartitions": "1",
    # The ingest query's de-duplication state lives in RocksDB, changes written per batch (changelog): a batch
    # costs the same whatever the state holds (the default store copies its whole map at every version).
    "spark.sql.streaming.stateStore.providerClass": (
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
    ),
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
    "spark.sql.streaming.stateStore.rocksdb.boundedMemoryUsage": "true",
    "spark.sql.streaming.stateStore.rocksdb.maxMemoryUsageMB": "256",
}


def on_databricks() -> bool:
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def under_spark_submit() -> bool:
    """spark-submit starts the JVM first and hands the Python driver its gateway."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def remote() -> str | None:
    """PySpark's own convention: with `SPARK_REMOTE` set, the session is a Spark Connect client (serverless on
    Databricks; `SPARK_REMOTE=local` starts a local Connect server from the jars PySpark ships)."""
    return os.environ.get("SPARK_REMOTE") or None


def class_archive() -> Path:
    """Where the JVM's class-data archive for this JDK, PySpark and Delta is (leadscore.class_archive makes it): a
    new JDK or a new pin names another file, so an archive is never used with what it was not made from."""
    java_home = os.environ.get("JAVA_HOME")  # what spark-submit runs: $JAVA_HOME/bin/java, else java on the PATH
    java = Path(java_home) / "bin" / "java" if java_home else Path(shutil.which("java") or "java")
    release = java.resolve().parents[1] / "release"
    made_from = [release.read_text() if release.is_file() else str(java), version("pyspark"), version("delta-spark")]
    key = hashlib.sha1("\n".join(made_from).encode()).hexdigest()[:12]
    return jars_dir().parent / "jvm" / f"classes-{key}.jsa"


def java_options(archive_to: Path | None = None) -> str:
    """The driver JVM's options: JAVA_OPTIONS, and the class-data archive it maps when there is one (or, with
    `archive_to`, the archive it writes when it exits)."""
    options, archive = list(JAVA_OPTIONS), class_archive()
    if archive_to is not None:
        options.append(f"-XX:ArchiveClassesAtExit={archive_to}")
    elif archive.is_file():
        options.append(f"-XX:SharedArchiveFile={archive}")
    return " ".join([*options, *QUIET_CLASS_SHARING])


def local_settings(settings: SparkSettings, archive_to: Path | None = None) -> dict[str, str]:
    """What a session we start ourselves is given: Delta, sizing for this machine, UTC, small-batch costs."""
    jars = local_jars()
    if all(jar.is_file() for jar in jars):
        delta_jars = {"spark.jars": ",".join(str(j) for j in jars)}
    else:  # no Maven-resolved jars: let Spark's own resolver fetch them
        delta_jars = {"spark.jars.packages": ",".join(delta_artifacts())}
    return {
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.default.parallelism": str(settings.shuffle_partitions),
        "spark.driver.memory": settings.driver_memory,
        "spark.ui.enabled": str(settings.ui).lower(),
        "spark.ui.showConsoleProgress": "false",
        # Failures reach the caller as exceptions; no task stack traces (the server's log too, over Connect).
        "spark.log.level": "FATAL",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.streaming.stopGracefullyOnShutdown": "true",
        "spark.driver.extraJavaOptions": java_options(archive_to),
        **SMALL_BATCH_SETTINGS,
        **delta_jars,
    }


# Why the jobs that fit or load a model are declared on classic compute (resources/*.yml) and stop over Connect.
SPARK_ML_NEEDS_CLASSIC = (
    "XGBoost trains in barrier mode on RDDs and predicts from a model that lives in the driver's Python, MLflow's "
    "Spark flavour copies a model through the JVM's Hadoop file system, and Spark 4.0's Connect ML cache keeps at "
    "most 100 fitted objects (a tuned pipeline of ~25 stages per fit evicts its own models)"
)


def get_spark(
    settings: SparkSettings,
    app_name: str = "leadscore",
    *,
    spark_ml: bool = False,
    archive_classes_to: Path | None = None,
) -> SparkSession:
    """Databricks and spark-submit already decided the session's settings; only a local run gets ours.

    A local Spark Connect server (`SPARK_REMOTE=local`, or `local[N]`) is started with the same settings as a
    classic local session, on conf's master; a remote address (`sc://...`) is a server configured by its owner.
    A job that fits or loads a Spark ML pipeline (`spark_ml`) stops before any work on a Connect session.
    `archive_classes_to` is for leadscore.class_archive only: the local JVM writes its classes there as it exits.
    """
    if spark_ml and remote() is not None:  # before a server is started for nothing
        raise LeadscoreError(_classic_only(app_name, f"SPARK_REMOTE={remote()}"))
    spark = _session(settings, app_name, archive_classes_to)
    if spark_ml and is_remote():  # Databricks serverless: Connect without SPARK_REMOTE
        raise LeadscoreError(_classic_only(app_name, "serverless compute"))
    return spark


def _classic_only(app_name: str, where: str) -> str:
    return (
        f"{app_name} needs a classic Spark session, not Spark Connect ({where}): {SPARK_ML_NEEDS_CLASSIC}. "
        "Unset SPARK_REMOTE; on Databricks the job runs on its job cluster (resources/)"
    )


def _session(settings: SparkSettings, app_name: str, archive_to: Path | None = None) -> SparkSession:
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if on_databricks() or under_spark_submit():
        return SparkSession.builder.appName(app_name).getOrCreate()
    # Python workers (bronze's multi-line records, foreachBatch over Connect) import leadscore: run this interpreter.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    address = remote()
    if address is not None and not address.startswith("local"):
        return SparkSession.builder.remote(address).getOrCreate()
    builder = SparkSession.builder.appName(app_name)
    builder = builder.remote(settings.master) if address is not None else builder.master(settings.master)
    for key, value in local_settings(settings, archive_to).items():
        builder = builder.config(key, value)
    with warnings.catch_warnings():
        # The local Connect server starts with these settings; the client then tries to set the static ones on
        # its session as well, and warns (CANNOT_MODIFY_CONFIG) that the server already has them.
        warnings.filterwarnings("ignore", message=".*CANNOT_MODIFY_CONFIG.*")
        return builder.getOrCreate()


if __name__ == "__main__":  # `python -m leadscore.spark fetch-jars`, called by `make setup`
    if sys.argv[1:] != ["fetch-jars"]:
        sys.exit("usage: python -m leadscore.spark fetch-jars")
    for jar in fetch_jars():
        print(jar)
