"""gold.lead_scores: its rows, and the one commit that writes a batch of them (a MERGE by prospect_id, or an append).

The newest event of a lead wins: a late event older than the stored one never overwrites it. The MERGE is SQL, which
runs the same on a classic session, over Spark Connect and on Databricks.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from leadscore.config import Config
from leadscore.schema import KEY
from leadscore.scoring.live_view import COLUMNS, SHADOW_COLUMNS, newer
from leadscore.scoring.serving import shadow_columns

# The incoming event is newer than the stored one (ORDER: landing time, then file, then line).
NEWER = newer("s", "t")
# A batch of at most this many leads names them in the MERGE condition: Delta then skips the files whose
# prospect_id statistics rule them out instead of joining the batch with every file of the table. A larger batch (a
# backlog) first asks whether the table holds any of its leads, and is appended when it holds none.
PRUNING_LEADS = 2_000
BATCH_VIEW = "leadscore_scored_batch"
# How Delta's auto compaction (lead_scores' property) runs in the scores query's session, for every MERGE it makes
# (docs/performance.md, Live micro-batch):
# - only files under 16 MB: the MERGEs' own small files, never a drained backlog's large ones;
# - only once this process has counted 50 small files: by default Delta also compacts at a process's first write and
#   then forgets it did, so a restarted stream would compact after every MERGE.
COMPACTION_SETTINGS = {
    "spark.databricks.delta.autoCompact.minFileSize": str(16 << 20),
    "spark.databricks.delta.autoCompact.modifiedPartitionsOnly.enabled": "false",
}


def lead_score_rows(
    scored: DataFrame,
    model_version: str,
    batch_id: int | Column,
    scored_at: Column | None = None,
    keep: Sequence[str] = (),
) -> DataFrame:
    """Scored silver rows -> the lead_scores columns (live_view.COLUMNS), then the columns `keep` names; `scored_at`
    is now unless given."""
    computed = {
        "model_version": F.lit(model_version),
        **dict(zip(SHADOW_COLUMNS, shadow_columns(scored), strict=True)),
        "scored_at": F.current_timestamp() if scored_at is None else scored_at,
        "batch_id": (batch_id if isinstance(batch_id, Column) else F.lit(batch_id)).cast("long"),
    }
    return scored.select(*[computed[c].alias(c) if c in computed else F.col(c) for c in (*COLUMNS, *keep)])


def merge(spark: SparkSession, config: Config, rows: DataFrame, leads: list[str] | None = None) -> None:
    """MERGE of one row per lead into lead_scores; `leads` (the rows' prospect ids, when few) prunes the files read.

    `rows` should be materialised: the MERGE reads its source twice (the session does not make it copy it again).
    """
    on = "t.prospect_id = s.prospect_id"
    if leads:
        on += f" AND t.prospect_id IN ({', '.join(_sql_string(lead) for lead in leads)})"
    rows.createOrReplaceTempView(BATCH_VIEW)
    try:
        spark.sql(
            f"MERGE INTO {config.table('lead_scores').sql_name} t USING {BATCH_VIEW} s ON {on} "
            f"WHEN MATCHED AND ({NEWER}) THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
        )
    finally:
        spark.catalog.dropTempView(BATCH_VIEW)


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def write_scores(spark: SparkSession, config: Config, rows: DataFrame, leads: list[str]) -> str:
    """One commit of the batch's rows (one per lead, materialised) into lead_scores; returns the write it made.

    A backlog (more than PRUNING_LEADS leads) none of whose leads the table holds yet (a first drain, a backfill of
    new leads) is appended: a MERGE of new leads only would still join them with the table and go through Delta's
    MERGE machinery, for the same rows. One join of the leads' ids with the table's decides it; a batch with leads
    the table holds is MERGEd as any other. A small batch (the real-time path) is MERGEd without asking: its MERGE
    is pruned to the files that may hold its leads, and the question would cost as much as it could save.
    """
    table = config.table("lead_scores")
    if len(leads) <= PRUNING_LEADS:
        merge(spark, config, rows, leads)
        return "merge"
    if rows.join(table.read(spark).select(KEY), KEY, "left_semi").isEmpty():
        table.save(rows.write.mode("append"))
        return "append"
    merge(spark, config, rows)
    return "merge"
