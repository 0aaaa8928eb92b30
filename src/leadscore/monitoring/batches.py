"""The scores stream's micro-batches, one record each: written into the batch's commit, read from history.

A scores micro-batch commits exactly one version of gold.lead_scores: its MERGE (or, for a backlog of leads the table
does not hold yet, its append: leadscore.scoring.merge.write_scores). The batch's record (its events and leads, score
quantiles and priority bands, the model, when it started) rides in that commit's `userMetadata`, beside the (query,
batch) tag that makes the commit idempotent. So the record is atomic with the scores it describes, a replayed batch
cannot record itself twice, and the batch pays for no second write (a Delta append to a table of its own, and the
history lookup to find the MERGE's version).
What only the commit knows (its version, time, rows inserted and updated) is read with it.

The console's pipeline page reads the records back from the table's history (`DESCRIBE HISTORY` on a warehouse,
delta-rs without a JVM locally), as `from_history` shapes them. Plain Python and pandas: the console has no Spark.
"""

from __future__ import annotations

import pandas as pd

from leadscore.streaming import commit_tags

RECORD = "scoring_batch"  # the record's key in the commit's userMetadata (the tag's query_id and batch_id beside it)
# The figures observed while the batch is scored (leadscore.scoring.query.ObservedFigures), times in epoch microseconds.
OBSERVED = ("events", "oldest_event_us", "newest_event_us", "leads_merged", "score_p10", "score_p50", "score_p90",
            "hot", "warm", "cold")  # fmt: skip
COLUMNS = (
    "query_id", "batch_id", "committed_at", "lead_scores_version", "events", "leads_merged", "leads_inserted",
    "leads_updated", "oldest_event_ts", "newest_event_ts", "latency_oldest_s", "latency_newest_s", "model_name",
    "model_version", "score_p10", "score_p50", "score_p90", "hot", "warm", "cold", "batch_seconds",
)  # fmt: skip
# Rows a commit inserted and updated, by the name its operation gives the metric: a MERGE's, then an append's
# (inserts only) or an UPDATE's.
INSERTED_METRICS = ("numTargetRowsInserted", "numOutputRows")
UPDATED_METRICS = ("numTargetRowsUpdated", "numUpdatedRows")


def metric(metrics: dict, names: tuple[str, ...]) -> int:
    """The first of `names` the commit's operation metrics have, 0 if none."""
    return int(next((metrics[name] for name in names if name in metrics), 0))


def commit_record(figures: dict, model: tuple[str, str], started_us: int) -> dict:
    """What a batch writes into its commit: the observed figures, the model that scored, when it started."""
    return {**{name: figures[name] for name in OBSERVED}, "model": list(model), "started_us": started_us}


def from_history(history: pd.DataFrame) -> pd.DataFrame:
    """lead_scores' history (version, timestamp, operation, operation_metrics, user_metadata; as the console's
    readers give it)
    -> one row per recorded scores batch (COLUMNS), oldest first; commits made by anything else are left out."""
    rows = [_row(commit) for commit in history.itertuples(index=False)]
    batches = pd.DataFrame([row for row in rows if row is not None], columns=list(COLUMNS))
    return batches.sort_values("committed_at", ignore_index=True)


def _row(commit) -> dict | None:
    tag = commit_tags.parsed(commit.user_metadata, commit.operation)
    if tag is None or RECORD not in tag:
        return None
    record, committed = tag[RECORD], pd.Timestamp(commit.timestamp)
    committed = committed.tz_localize("UTC") if committed.tzinfo is None else committed
    metrics = commit.operation_metrics or {}

    def at(micros: int | None) -> pd.Timestamp | None:
        return None if micros is None else pd.Timestamp(micros, unit="us", tz="UTC")

    def seconds_to_commit(micros: int | None) -> float | None:
        return None if micros is None else round((committed - at(micros)).total_seconds(), 3)

    return {
        **{name: record[name] for name in OBSERVED if not name.endswith("_us")},
        "query_id": tag["query_id"],
        "batch_id": tag["batch_id"],
        "committed_at": committed,
        "lead_scores_version": commit.version,
        "leads_inserted": metric(metrics, INSERTED_METRICS),
        "leads_updated": metric(metrics, UPDATED_METRICS),
        "oldest_event_ts": at(record["oldest_event_us"]),
        "newest_event_ts": at(record["newest_event_us"]),
        "latency_oldest_s": seconds_to_commit(record["oldest_event_us"]),
        "latency_newest_s": seconds_to_commit(record["newest_event_us"]),
        "model_name": record["model"][0],
        "model_version": record["model"][1],
        "batch_seconds": seconds_to_commit(record["started_us"]),
    }
