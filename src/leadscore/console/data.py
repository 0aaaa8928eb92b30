"""What the console's pages ask of the lakehouse: one function per question, each over a Reader.

Pages never write SQL or touch a client; these functions hold the queries, in the SQL that both readers accept.
"""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd

from leadscore.console.reader import Reader
from leadscore.errors import LeadscoreError
from leadscore.monitoring import batches
from leadscore.scoring import live_view

# The call queue's columns: what an agent needs to pick up the phone (the CLI's `leadscore queue` lists the same).
QUEUE_COLUMNS = (
    "prospect_id", "lead_number", "score", "lead_capture_channel", "referral_source", "last_action",
    "total_visits", "total_browsing_time", "opted_out_email", "event_ts",
)  # fmt: skip
HISTORY_COLUMNS = (
    "version", "committed_at", "change", "score", "priority", "last_action", "total_visits", "total_browsing_time",
    "model_version", "event_ts", "event_seq", "batch_id",
)  # fmt: skip
EVENT_COLUMNS = (
    "event_ts", "event_seq", "last_action", "total_visits", "total_browsing_time", "avg_listings_viewed_per_session",
    "_source_file", "_line_number",
)  # fmt: skip
LEAD_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")


def lead_filter(lead: str) -> str:
    """SQL condition for a prospect ID or a lead number (all digits), as `leadscore scores --lead` takes them."""
    lead = lead.strip()
    if not LEAD_ID.match(lead):
        raise LeadscoreError(f"{lead!r} is not a prospect ID or a lead number")
    return f"lead_number = {int(lead)}" if lead.isdigit() else f"prospect_id = '{lead}'"


def live_scores(reader: Reader) -> str:
    """The agents' view (leadscore.scoring.live_view) as a relation for the FROM of a query: lead_scores at its
    latest version and the newer score_events past that version's high-water mark; lead_scores alone on a lakehouse
    no live query has written to."""
    if not reader.exists("score_events"):
        return "{lead_scores}"
    pinned = f"{{lead_scores@{int(reader.history('lead_scores', 1)['version'].iloc[0])}}}"

    def mark(sql: str) -> datetime | None:
        found = reader.query(sql)["mark"].iloc[0]
        return None if pd.isna(found) else found.to_pydatetime()

    return f"({live_view.pinned_sql(pinned, '{score_events}', mark)}) AS live"


def call_queue(reader: Reader, size: int) -> pd.DataFrame:
    """Hot leads as agents see them now, highest score first, never one that opted out of calls (nor one whose
    choice is unknown)."""
    if not reader.exists("lead_scores"):
        return pd.DataFrame(columns=list(QUEUE_COLUMNS))
    return reader.query(
        f"SELECT {', '.join(QUEUE_COLUMNS)} FROM {live_scores(reader)} "
        f"WHERE priority = 'hot' AND opted_out_call = false ORDER BY score DESC, prospect_id LIMIT {int(size)}"
    )


def lead_now(reader: Reader, lead: str, version: int | None = None) -> pd.DataFrame:
    """The lead's score as agents see it now, or its row in lead_scores as the table was at `version` (time travel);
    empty if it had none."""
    table = live_scores(reader) if version is None else f"{{lead_scores@{int(version)}}}"
    return reader.query(f"SELECT * FROM {table} WHERE {lead_filter(lead)}")


def lead_history(reader: Reader, lead: str) -> pd.DataFrame:
    """Each version of lead_scores that changed the lead: its score and priority then, and the event that set them.

    From the table's change data feed: an insert or an update's post-image per version. The lead's row at any version
    is the last of these at or before it (what `leadscore scores --version N --lead ID` shows).
    """
    feed = reader.changes("lead_scores", lead_filter(lead))
    kept = feed[feed["_change_type"].isin(["insert", "update_postimage"])].sort_values("_commit_version")
    history = kept.rename(columns={"_commit_version": "version", "_commit_timestamp": "committed_at"})
    history["change"] = history["_change_type"].map({"insert": "scored", "update_postimage": "rescored"})
    history["version"] = history["version"].astype("int64")
    return history[list(HISTORY_COLUMNS)].reset_index(drop=True)


def lead_events(reader: Reader, lead: str, moved: pd.DataFrame) -> pd.DataFrame:
    """The lead's silver events, newest first; `moved_score` says which ones set its score (found in `moved`, the
    lead's history): a late event older than the stored one never does."""
    events = reader.query(
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM {{silver_leads}} WHERE {lead_filter(lead)} "
        "ORDER BY event_ts DESC, event_seq DESC"
    )
    setting = set(zip(moved["event_ts"], moved["event_seq"], strict=True))
    events.insert(
        0,
        "moved_score",
        [(ts, seq) in setting for ts, seq in zip(events["event_ts"], events["event_seq"], strict=True)],
    )
    return events


def versions(reader: Reader, limit: int | None = None) -> pd.DataFrame:
    """lead_scores' versions, newest first, with rows inserted and updated (as `leadscore history` shows them)."""
    if not reader.exists("lead_scores"):
        return pd.DataFrame(columns=["version", "timestamp", "operation", "rows_inserted", "rows_updated"])
    history = reader.history("lead_scores", limit)
    for column, names in (("rows_inserted", batches.INSERTED_METRICS), ("rows_updated", batches.UPDATED_METRICS)):
        history[column] = history["operation_metrics"].map(lambda m, names=names: batches.metric(m, names))
    return history.drop(columns=["operation_metrics", "user_metadata"])


def scoring_batches(reader: Reader, limit: int = 500) -> pd.DataFrame:
    """The scores stream's micro-batches among lead_scores' newest `limit` versions, oldest first (for charts over
    time): the record each batch's MERGE commit carries (leadscore.monitoring.batches)."""
    if not reader.exists("lead_scores"):
        return pd.DataFrame(columns=list(batches.COLUMNS))
    return batches.from_history(reader.history("lead_scores", limit))


def quarantine_by_expectation(reader: Reader) -> pd.DataFrame:
    """Quarantined rows per failed expectation, most first (a row failing two counts under both)."""
    if not reader.exists("quarantine"):
        return pd.DataFrame(columns=["expectation", "rows"])
    grouped = reader.query(
        "SELECT _failed_expectations AS failed, count(*) AS n FROM {quarantine} GROUP BY _failed_expectations"
    )
    exploded = grouped.assign(expectation=grouped["failed"].map(list)).explode("expectation")
    counts = exploded.groupby("expectation", as_index=False)["n"].sum().rename(columns={"n": "rows"})
    return counts.sort_values(["rows", "expectation"], ascending=[False, True], ignore_index=True)


def table_rows(reader: Reader) -> pd.DataFrame:
    """Rows in each table of the medallion: bronze = silver + quarantine + duplicates."""
    logical = ("bronze_leads", "silver_leads", "quarantine", "duplicates", "score_events", "lead_scores")
    counts = [
        (name, int(reader.query(f"SELECT count(*) AS n FROM {{{name}}}")["n"].iloc[0]) if reader.exists(name) else None)
        for name in logical
    ]
    return pd.DataFrame(counts, columns=["table", "rows"])


def latest_drift(reader: Reader) -> pd.DataFrame:
    """The newest monitor run's rows of gold.drift (empty before the first run)."""
    if not reader.exists("drift"):
        return pd.DataFrame()
    return reader.query(
        "SELECT * FROM {drift} WHERE run_id = (SELECT run_id FROM {drift} ORDER BY computed_at DESC LIMIT 1) "
        "ORDER BY drift_detected DESC, stattest_name, drift_score DESC"
    )


def drift_runs(reader: Reader) -> pd.DataFrame:
    """One line per monitor run: when, which model, window end, and how many breaches."""
    if not reader.exists("drift"):
        return pd.DataFrame()
    return reader.query(
        "SELECT run_id, max(computed_at) AS computed_at, max(model_id) AS model_id, "
        "sum(CASE WHEN drift_detected THEN 1 ELSE 0 END) AS breaches FROM {drift} GROUP BY run_id "
        "ORDER BY computed_at"
    )
