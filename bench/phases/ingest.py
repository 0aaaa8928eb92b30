"""Phases `ingest_small` and `ingest_1m`: our ingest (`ingest.ingest()`, landing CSV -> bronze -> silver,
availableNow, with its counts) on generated files, in rows/s and the driver tree's peak RSS; measured against the
ceiling of this stack on the same files, Spark's own CSV reader -> a plain Delta append (no checks, no silver),
ours reported as a share of it (`ingest_share_of_ceiling`).

The child `ingest` is also what the memory phase (`ingest_10m`, phases/memory.py) runs at 10M rows.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from harness import child_argv, export_schema, ratio, run_child, session

# Ingest phases run with a 2 GB heap (`spark.driver_memory`; conf/common.yml's local default is 4g). A JVM grows
# to the heap it is allowed, so with 4g its resident memory measures that setting, not the data; the question is
# whether ingest streams 10M rows within 3 GB.
INGEST_HEAP = "2g"


def child_ingest(args: dict) -> dict:
    """Our ingest of `source` into a new lakehouse, in its own driver with the ingest heap."""
    from leadscore.ingest.query import ingest

    spark, config = session(Path(args["lakehouse"]), **{"spark.driver_memory": INGEST_HEAP})
    started = time.perf_counter()
    counts = ingest(spark, config, args["source"])
    seconds = time.perf_counter() - started
    return {"rows": counts["bronze"], "silver": counts["silver"], "seconds": round(seconds, 2),
            "rows_per_s": round(counts["bronze"] / seconds), "driver_memory": INGEST_HEAP}  # fmt: skip


def child_ingest_ceiling(args: dict) -> dict:
    """The ceiling of ingest on this stack: the same files through Spark's own CSV reader into a plain Delta append
    (no parse checks, no silver), with the same heap as our ingest."""
    spark, _ = session(Path(args["lakehouse"]), **{"spark.driver_memory": INGEST_HEAP})
    target = str(Path(args["lakehouse"]) / "plain_copy")
    started = time.perf_counter()
    spark.read.csv(args["source"], schema=export_schema(), header=True).write.format("delta").mode("append").save(
        target
    )
    seconds = time.perf_counter() - started
    rows = int(spark.sql(f"DESCRIBE HISTORY delta.`{target}` LIMIT 1").first()["operationMetrics"]["numOutputRows"])
    return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
            "driver_memory": INGEST_HEAP}  # fmt: skip


def ingest_phase(phase: str, lake: Path, source: Path, work: Path, record) -> bool:
    """Our ingest of the files, then the stack's ceiling on the same files (each in its own driver); True when
    ours succeeded."""
    d, w, p, rc = run_child(child_argv("ingest", lakehouse=str(lake), source=str(source)), phase)
    plain = work / f"{phase}_ceiling"
    argv = child_argv("ingest_ceiling", lakehouse=str(plain), source=str(source))
    c, cw, cp, crc = run_child(argv, f"{phase} ceiling")
    shutil.rmtree(plain, ignore_errors=True)
    ours, ceiling = d and d["rows_per_s"], c and c["rows_per_s"]
    if phase == "ingest_small":
        record(phase, {"ingest_rows_per_s_100k": ours}, d, w, p, rc)
        record(f"{phase}_ceiling", {"ingest_ceiling_rows_per_s_100k": ceiling,
                                    "ingest_share_of_ceiling_100k": ratio(ours, ceiling)}, c, cw, cp, crc)  # fmt: skip
    else:
        record(phase, {"ingest_rows_per_s_1m": ours, "ingest_rows_per_s": ours, "peak_rss_mb_1m": p}, d, w, p, rc)
        record(f"{phase}_ceiling", {"ingest_ceiling_rows_per_s": ceiling,
                                    "ingest_share_of_ceiling": ratio(ours, ceiling)}, c, cw, cp, crc)  # fmt: skip
    return rc == 0
