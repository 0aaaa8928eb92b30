"""The agents' view of the scores: per lead, the newest of its row in gold.lead_scores and its gold.score_events.

The live query appends each scored event to score_events within seconds of its landing; the scores query MERGEs
into lead_scores on its own, slower cadence. The view shows, per lead, the newest by ORDER (landing time, then file,
then line) of the lead's lead_scores row and of its score_events newer than lead_scores: a late event never shows
over a newer one, a lead is never shown twice, and a tie (the same event in both) goes to lead_scores, so once the
scores query has caught up the view is lead_scores.

It reads score_events only past lead_scores' high-water mark, `max(_ingested_at)`: the scores query MERGEs silver in
the order the ingest query wrote it, so every event ingested before the mark is in lead_scores already (or was
older than its lead's row there). The mark only bounds what is read; correctness comes from newest-wins, so the mark
must never be later than what the lead_scores snapshot read holds: it is read from that same snapshot.

One SQL text, with table references and the mark given by the caller: run by Spark (`leadscore queue`, `scores`),
by the console's readers (delta-rs locally, the SQL warehouse on Databricks), and created as a view in the schema on
Databricks. Plain Python: the console has no Spark.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from leadscore.schema import KEY, ORDER

# What an agent reads beside the score; the lead's identity and contact preferences come first.
AGENT_FEATURES = ("lead_capture_channel", "referral_source", "last_action", "total_visits", "total_browsing_time")
# The challenger's score of the same event and its version (null without shadowing), and their types.
SHADOW_COLUMNS = {"challenger_score": "double", "challenger_version": "string"}
# A lead_scores row, and what the view shows: the score, what an agent reads, the model, the event it scored (ORDER),
# when and by which scores batch, and when silver took the event (`_ingested_at`, the high-water mark's column).
COLUMNS = (
    KEY, "lead_number", "score", "prediction", "priority", *AGENT_FEATURES, "opted_out_call", "opted_out_email",
    "model_version", *SHADOW_COLUMNS, *ORDER, "scored_at", "batch_id", "_ingested_at",
)  # fmt: skip
# Before any MERGE (lead_scores empty) every event counts.
NO_MARK = datetime(1970, 1, 1, tzinfo=UTC)


def newer(new: str, old: str) -> str:
    """SQL: the event of row alias `new` is newer by ORDER than that of `old`."""
    ts, file, seq = ORDER
    return (
        f"{new}.{ts} > {old}.{ts} OR ({new}.{ts} = {old}.{ts} AND ({new}.{file} > {old}.{file} OR "
        f"({new}.{file} = {old}.{file} AND {new}.{seq} > {old}.{seq})))"
    )


def mark_sql(lead_scores: str) -> str:
    """SQL of lead_scores' high-water mark (null while it is empty)."""
    return f"SELECT max(_ingested_at) AS mark FROM {lead_scores}"


def timestamp_literal(mark: datetime | None) -> str:
    """The mark as a literal each engine reads the same (Spark, DataFusion, Databricks SQL): a literal, not a
    subquery, lets each skip the score_events files whose `_ingested_at` statistics lie before it."""
    at = (mark or NO_MARK).astimezone(UTC)
    return f"TIMESTAMP '{at:%Y-%m-%dT%H:%M:%S.%f}Z'"


def live_sql(lead_scores: str, score_events: str, mark: str) -> str:
    """The view over the table references given (names, or a reader's placeholders), score_events read from `mark`
    on (a literal, or for the view in the schema, `mark_sql` as a subquery)."""
    columns = ", ".join(COLUMNS)
    ts, file, seq = ORDER
    return f"""
WITH recent AS (
  SELECT {columns},
         row_number() OVER (PARTITION BY {KEY} ORDER BY {ts} DESC, {file} DESC, {seq} DESC) AS _newest
  FROM {score_events} WHERE _ingested_at >= {mark}
),
ahead AS (
  SELECT {", ".join(f"e.{c}" for c in COLUMNS)}
  FROM recent e LEFT JOIN {lead_scores} s ON s.{KEY} = e.{KEY}
  WHERE e._newest = 1 AND (s.{KEY} IS NULL OR {newer("e", "s")})
)
SELECT {columns} FROM {lead_scores} s WHERE NOT EXISTS (SELECT 1 FROM ahead a WHERE a.{KEY} = s.{KEY})
UNION ALL
SELECT {columns} FROM ahead"""


def pinned_sql(lead_scores: str, score_events: str, read_mark: Callable[[str], datetime | None]) -> str:
    """The view with the high-water mark as a literal: `lead_scores` names one version of the table (pinned, so that
    the mark and the rows come from the same snapshot), `read_mark` runs `mark_sql` over it and returns the mark."""
    return live_sql(lead_scores, score_events, timestamp_literal(read_mark(mark_sql(lead_scores))))
