"""Phase `drain`: a backlog drained, then updates merged. The 1M leads `ingest_1m` put in silver are scored into an
empty `lead_scores` by the real-time path run once (availableNow), in leads/s (`drain_leads_per_s`); measured
against the ceiling of this stack, the same scored leads read and appended to a new Delta table
(`drain_ceiling_leads_per_s`), ours reported as a share of it (`drain_share_of_ceiling`). Then follow-ups for a
tenth of the leads are ingested and MERGEd into the million (`update_merge_leads_per_s`, with the MERGE's own
metrics); the quick bench leaves that part out (`update_merge: false`).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from harness import SEED, child_argv, ratio, run_child, say, session


def _follow_ups(landing: Path, count: int, out: Path) -> int:
    """Newer activity for the first `count` leads of the landing files, as one file landed now."""
    import numpy as np

    from leadscore.synthetic.calibration import read_export
    from leadscore.synthetic.generator import write_csv
    from leadscore.synthetic.simulator import follow_up

    rng = np.random.default_rng(SEED)
    rows: list[list[str]] = []
    for path in sorted(landing.glob("*.csv")):
        rows += [follow_up(row, rng) for row in read_export(path)[: count - len(rows)]]
        if len(rows) == count:
            break
    write_csv(out, [rows])
    return len(rows)


def child_drain(args: dict) -> dict:
    """The drain, its ceiling and (unless `update_merge` is false) the update MERGE, in one driver: each needs what
    the one before left (every lead scored, then the scored table to copy and to merge into)."""
    from leadscore import realtime
    from leadscore.ingest.query import ingest

    lakehouse, source = Path(args["lakehouse"]), args["source"]
    spark, config = session(lakehouse, args["tracking_uri"], stream=True, **{"stream.max_files_per_trigger": 100_000})
    scores = config.table("lead_scores")

    started = time.perf_counter()  # silver holds every lead; bronze and silver have nothing new
    realtime.run(spark, config, source, available_now=True)
    drain_seconds = time.perf_counter() - started
    leads = scores.read(spark).count()
    say(f"drain: {leads:,} leads in {drain_seconds:.1f}s")

    plain_copy = Path(args["ceiling"])  # the ceiling: the scored leads, read and appended to a new Delta table
    started = time.perf_counter()
    scores.read(spark).write.format("delta").mode("append").save(str(plain_copy))
    ceiling_seconds = time.perf_counter() - started
    shutil.rmtree(plain_copy)
    say(f"drain ceiling: {leads:,} leads appended in {ceiling_seconds:.1f}s")
    drained = {
        "leads": leads,
        "drain_seconds": round(drain_seconds, 2),
        "drain_leads_per_s": round(leads / drain_seconds),
        "drain_ceiling_seconds": round(ceiling_seconds, 2),
        "drain_ceiling_leads_per_s": round(leads / ceiling_seconds),
    }
    if not args.get("update_merge", True):
        return drained

    updates = Path(args["updates"])
    updates.mkdir(parents=True, exist_ok=True)
    updated = _follow_ups(Path(source), max(1, leads // 10), updates / "updates-00001.csv")
    started = time.perf_counter()
    ingest(spark, config, str(updates))
    update_ingest_seconds = time.perf_counter() - started
    started = time.perf_counter()
    realtime.run(spark, config, str(updates), available_now=True)
    update_seconds = time.perf_counter() - started
    history = scores.history(spark, 1).first()["operationMetrics"]
    say(f"update: {updated:,} follow-ups merged in {update_seconds:.1f}s")
    return {
        **drained,
        "updated": updated,
        "update_ingest_seconds": round(update_ingest_seconds, 2),
        "update_merge_seconds": round(update_seconds, 2),
        "update_merge_leads_per_s": round(updated / update_seconds),
        "update_merge_metrics": {k: history.get(k) for k in (
            "numTargetRowsUpdated", "numTargetRowsInserted", "numTargetFilesAdded", "numTargetFilesRemoved",
            "numTargetDeletionVectorsAdded", "executionTimeMs", "scanTimeMs", "rewriteTimeMs")},
    }  # fmt: skip


def drain_keys(details: dict | None) -> dict:
    """The drain child's figures, from its JSON (the update MERGE's when it ran)."""
    ours, ceiling = details and details["drain_leads_per_s"], details and details["drain_ceiling_leads_per_s"]
    return {
        "drain_leads_per_s": ours,
        "drain_ceiling_leads_per_s": ceiling,
        "drain_share_of_ceiling": ratio(ours, ceiling),
        "update_merge_leads_per_s": details and details.get("update_merge_leads_per_s"),
    }


def drain_phase(lake_1m: Path, models: str, source: Path, work: Path, record) -> None:
    """The drain child on `lake_1m` (`source`: the files it was ingested from, for the follow-ups)."""
    argv = child_argv("drain", lakehouse=str(lake_1m), tracking_uri=models, source=str(source),
                      updates=str(work / "updates"), ceiling=str(work / "drain_ceiling"))  # fmt: skip
    d, w, p, rc = run_child(argv, "drain")
    record("drain", drain_keys(d), d, w, p, rc)
