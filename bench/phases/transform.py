"""Phase `transform`: scoring alone, `with_score` with the published model over the 1M silver rows `ingest_1m` wrote,
cached in memory first and written to Spark's no-op sink, so the figure (`transform_rows_per_s`) is the model's
stages and nothing else (no Delta scan, no write). No stack ceiling is measured beside it: its target is absolute
(TARGETS); what a plain append of scored rows costs is the drain phase's ceiling.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from harness import child_argv, run_child, session


def child_transform(args: dict) -> dict:
    """The champion's scoring of every silver row; its last stages and tree counts say which model was timed."""
    from leadscore.scoring.serving import AliasedModel
    from leadscore.training.evaluation import with_score

    spark, config = session(Path(args["lakehouse"]), args["tracking_uri"])
    champion = AliasedModel(config)
    champion.refresh()
    model = champion.model
    silver = config.table("silver_leads").read(spark).cache()
    rows = silver.count()  # in memory first: the figure is the transform's, not the Delta scan's
    with_score(model, silver.limit(10_000)).write.format("noop").mode("overwrite").save()  # JIT and codegen warm
    started = time.perf_counter()
    with_score(model, silver).write.format("noop").mode("overwrite").save()
    seconds = time.perf_counter() - started
    stages = [type(stage).__name__ for stage in model.stages]
    trees = [getattr(s, "getNumTrees", None) for s in model.stages if hasattr(s, "getNumTrees")]
    return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
            "us_per_row_per_core": round(seconds * os.cpu_count() / rows * 1e6, 2),
            "model_stages": stages[-3:], "trees": trees}  # fmt: skip


def transform_keys(details: dict | None) -> dict:
    """The transform child's figure, from its JSON."""
    return {"transform_rows_per_s": details and details["rows_per_s"]}


def transform_phase(lake_1m: Path, models: str, record) -> None:
    """The transform child on `lake_1m`, scoring with the model phase's champion (tracking store `models`)."""
    d, w, p, rc = run_child(child_argv("transform", lakehouse=str(lake_1m), tracking_uri=models), "transform")
    record("transform", transform_keys(d), d, w, p, rc)
