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


def ingest_keys(size: str, ours: dict | None, peak_mb: int) -> dict:
    """Our ingest's figures at `size` ("100k" or "1m", the phases' two sizes) from its child's JSON and peak RSS."""
    rows_per_s = ours and ours["rows_per_s"]
    if size == "100k":
        return {"ingest_rows_per_s_100k": rows_per_s}
    return {"ingest_rows_per_s_1m": rows_per_s, "ingest_rows_per_s": rows_per_s, "peak_rss_mb_1m": peak_mb}


def ceiling_keys(size: str, ceiling: dict | None, ours_rows_per_s: int | None) -> dict:
    """The ceiling's figures at `size` from its child's JSON, and ours as a share of it."""
    rows_per_s = ceiling and ceiling["rows_per_s"]
    suffix = "_100k" if size == "100k" else ""
    return {f"ingest_ceiling_rows_per_s{suffix}": rows_per_s,
            f"ingest_share_of_ceiling{suffix}": ratio(ours_rows_per_s, rows_per_s)}  # fmt: skip


def ingest_phase(phase: str, lake: Path, source: Path, work: Path, record) -> bool:
    """Our ingest of the files, then the stack's ceiling on the same files (each in its own driver); True when
    ours succeeded."""
    d, w, p, rc = run_child(child_argv("ingest", lakehouse=str(lake), source=str(source)), phase)
    plain = work / f"{phase}_ceiling"
    argv = child_argv("ingest_ceiling", lakehouse=str(plain), source=str(source))
    c, cw, cp, crc = run_child(argv, f"{phase} ceiling")
    shutil.rmtree(plain, ignore_errors=True)
    size = "100k" if phase == "ingest_small" else "1m"
    ours = ingest_keys(size, d, p)
    record(phase, ours, d, w, p, rc)
    record(f"{phase}_ceiling", ceiling_keys(size, c, ours[f"ingest_rows_per_s_{size}"]), c, cw, cp, crc)
    return rc == 0
