"""Phase `flat_cost`: whether a live micro-batch costs the same however large the tables have grown. The same
one-file batches (50 leads: 40 new, 10 follow-ups of stored leads) go through the running ingest and scores queries
of a small lakehouse and of the 1M-row one `ingest_1m` built; its figures are each query's median batch time per
table size and their ratio, large to small (`*_batch_ratio_large_to_small`). The small lakehouse is the reference
instead of a stack ceiling: the target is a ratio of at most 1.2. Both are measured by a driver started on tables
another driver built, as a restarted stream is: Delta keeps some state per process (auto compaction's count of small
files), and a stream restarted on a small table once compacted after every MERGE where its builder did not.
"""

from __future__ import annotations

from pathlib import Path

from harness import SEED, child_argv, ratio, run_child, say, session

FLAT_COST_FILES = 5  # flat_cost: files landed one at a time per table size; the first is a warm-up, not counted


def child_flat_cost_build(args: dict) -> dict:
    """The small lakehouse: its export ingested and every lead scored, in a driver of its own."""
    from leadscore import realtime
    from leadscore.ingest.query import ingest

    spark, config = session(Path(args["lakehouse"]), args["tracking_uri"], stream=True)
    counts = ingest(spark, config, args["source"])
    realtime.run(spark, config, None, available_now=True)
    return {"silver_rows": counts["silver"], "leads": config.table("lead_scores").read(spark).count()}


def child_flat_cost(args: dict) -> dict:
    """One table size: files of 50 leads (40 new, 10 follow-ups of stored leads) land one at a time into the running
    ingest and scores queries, each file drained through both before the next lands (one micro-batch each); the
    median batch time after the first file, which should not grow with silver and lead_scores."""
    import numpy as np

    from leadscore import realtime
    from leadscore.synthetic.simulator import GENERATED, replay

    lakehouse = Path(args["lakehouse"])
    spark, config = session(lakehouse, args["tracking_uri"], stream=True)
    spark.conf.set("spark.sql.streaming.numRecentProgressUpdates", "100000")
    realtime.run(spark, config, None, available_now=True)  # lead_scores holds every lead of silver
    silver_rows = config.table("silver_leads").read(spark).count()
    leads = config.table("lead_scores").read(spark).count()
    landing = lakehouse / "flat_cost_landing"
    landing.mkdir()
    say(f"flat_cost: {FLAT_COST_FILES} files of 50 leads, one at a time, into {silver_rows:,} silver rows and "
        f"{leads:,} scored leads")  # fmt: skip
    queries = realtime.start(spark, config, str(landing))
    # The follow-ups' leads: stored and scored, from the export's last file. Not its first: on the 1M-row lakehouse
    # the drain phase has updated the first file's leads into one small file of their own, so every MERGE touched
    # only that file, where a live follow-up is of any lead, most of them in a drained backlog's large files.
    follow_up_of = sorted(Path(args["export"]).glob("*.csv"))[-1]
    replay(GENERATED, landing, FLAT_COST_FILES, rows=40 * FLAT_COST_FILES, follow_up_share=0.2, seed=SEED,
           seen=follow_up_of, on_file=lambda _: realtime.drain(queries))  # fmt: skip
    seconds = {query.name: [p["durationMs"]["triggerExecution"] / 1000 for p in query.recentProgress
                            if p["numInputRows"]] for query in queries}  # fmt: skip
    for query in queries:
        query.stop()
    return {
        "silver_rows": silver_rows,
        "leads": leads,
        "batch_seconds": {name: [round(v, 3) for v in values] for name, values in seconds.items()},
        **{f"{name}_batch_s": round(float(np.median(values[1:])), 3) if values[1:] else None
           for name, values in seconds.items()},
    }  # fmt: skip


def flat_cost_phase(small_table: tuple[Path, Path], large_table: tuple[Path, Path], models: str, record) -> None:
    """The same one-file batches against a small and a large lakehouse, (lakehouse, the export it holds) each; the
    small one is built first, the large one is lake_1m as the earlier phases left it."""
    small_lake, small_export = small_table
    build_argv = child_argv("flat_cost_build", lakehouse=str(small_lake), tracking_uri=models, source=str(small_export))
    built = run_child(build_argv, "flat_cost small table built")
    runs = {}
    for size, (lake, export) in (("small", small_table), ("large", large_table)):
        if size == "small" and built[3]:  # no small table to measure: the phase fails with the build's exit status
            runs[size] = built
            continue
        argv = child_argv("flat_cost", lakehouse=str(lake), tracking_uri=models, export=str(export))
        runs[size] = run_child(argv, f"flat_cost {size} table")
    (small, *_), (large, *_) = runs["small"], runs["large"]
    keys = {}
    for query in ("ingest", "scores"):
        small_s, large_s = small and small[f"{query}_batch_s"], large and large[f"{query}_batch_s"]
        keys |= {f"{query}_batch_s_small_table": small_s, f"{query}_batch_s_large_table": large_s,
                 f"{query}_batch_ratio_large_to_small": ratio(large_s, small_s)}  # fmt: skip
    details = {"small_table": small, "large_table": large} if small and large else None
    wall = sum(run[1] for run in runs.values())
    peak = max(run[2] for run in runs.values())
    failed = next((rc for *_, rc in runs.values() if rc), 0)
    record("flat_cost", keys, details, wall, peak, failed)
