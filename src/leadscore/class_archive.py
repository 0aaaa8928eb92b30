"""The JVM's class-data archive: Spark's, Delta's and Hadoop's classes read and verified once, at set-up.

A local leadscore command starts a JVM that loads thousands of classes before its first query returns; a cold start
spends seconds parsing and verifying them (docs/performance.md, Ingest). Java's application class-data sharing (JEP 350)
archives the classes a run loaded, and every later JVM maps that archive instead of loading them again. `make setup`
runs this module: a small ingest, a MERGE and a Delta stream in a JVM started with `-XX:ArchiveClassesAtExit`, which
writes the archive as it exits. Every session leadscore.spark starts locally then maps it (`java_options`); a JVM it
does not fit (another class path, as a Spark Connect server has) ignores it. Databricks and spark-submit never see it.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

from pyspark.sql import SparkSession

from leadscore.config import Config, load_config
from leadscore.ingest.query import ingest
from leadscore.spark import class_archive, get_spark
from leadscore.synthetic.generator import generate

WORKLOAD_ROWS = 200


def _workload(spark: SparkSession, config: Config, work: Path) -> None:
    """What the commands do, small: an ingest (file stream, parse, de-duplication state, Delta appends), a MERGE
    into a table with deletion vectors and change data, its history, and a Delta stream."""
    generate(WORKLOAD_ROWS, seed=1, files=1, out_dir=work / "landing")
    ingest(spark, config, str(work / "landing"))
    silver = config.table("silver_leads").sql_name
    merged = f"delta.`{work / 'merged'}`"
    spark.sql(
        f"CREATE TABLE {merged} USING delta TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true', "
        f"'delta.enableDeletionVectors' = 'true') AS SELECT * FROM {silver} LIMIT {WORKLOAD_ROWS // 2}"
    )
    spark.sql(
        f"MERGE INTO {merged} t USING {silver} s ON t.prospect_id = s.prospect_id "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    spark.sql(f"DESCRIBE HISTORY {merged}").collect()
    copy = config.table("silver_leads").read_stream(spark).writeStream.format("delta").trigger(availableNow=True)
    copy.option("checkpointLocation", str(work / "checkpoint")).start(str(work / "copy")).awaitTermination()


def make(archive: Path) -> None:
    """Runs the workload in a JVM of its own that writes `archive` as it exits (to a temporary name first: another
    JVM starting meanwhile never maps half an archive)."""
    if SparkSession.getActiveSession() is not None:  # its JVM would be this session's, and stopped at the end
        raise RuntimeError("the class archive is made in a process of its own: python -m leadscore.class_archive")
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(f".{archive.name}.{os.getpid()}.tmp")
    with tempfile.TemporaryDirectory(prefix="leadscore-class-archive-") as work:
        config = load_config("local", overrides={"lakehouse": f"{work}/lakehouse", "spark.ui": False})
        spark = get_spark(config.spark, "leadscore-class-archive", archive_classes_to=partial)
        jvm = spark.sparkContext._gateway.proc
        try:
            _workload(spark, config, Path(work))
            spark.stop()
            jvm.stdin.close()  # PySpark's JVM exits when its standard input closes, writing the archive as it goes
            jvm.wait(timeout=600)
            if not partial.is_file():
                raise RuntimeError(f"the JVM wrote no archive at {partial}")
            partial.replace(archive)
        finally:
            if jvm.poll() is None:  # the workload failed: killed, the JVM writes nothing
                jvm.kill()
                jvm.wait()
            partial.unlink(missing_ok=True)


def main() -> int:
    """`python -m leadscore.class_archive` (make setup): makes the archive unless it is there. A JVM that cannot
    make one costs start-up time only, so a failure is reported and set-up goes on."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    archive = class_archive()
    if archive.is_file():
        return 0
    try:
        make(archive)
    except Exception as error:  # noqa: BLE001 - any failure leaves sessions as they were, without the archive
        print(f"class archive: none made ({error}); local sessions start without it", file=sys.stderr)
        return 0
    print(f"class archive: {archive} ({archive.stat().st_size / 2**20:.0f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
