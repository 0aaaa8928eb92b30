"""The tag a streaming query's write leaves in its Delta commit's `userMetadata`: the (query, batch) it belongs to,
and what the batch records there, if anything.

One format, written by the queries (leadscore.streams) and read both by them (a replayed batch finds its commit) and
by the console (leadscore.monitoring.batches reads the scores batches' records from history). Plain Python: the
console has no Spark.
"""

from __future__ import annotations

import json


def tag(query_id: str, batch_id: int, record: dict | None = None) -> str:
    return json.dumps({"query_id": query_id, "batch_id": batch_id, **(record or {})})


def parsed(user_metadata: str | None) -> dict | None:
    """The tag a commit carries, or None for a commit by another writer (no text, or text of its own)."""
    try:
        found = json.loads(user_metadata or "")
    except ValueError:
        return None
    return found if isinstance(found, dict) and {"query_id", "batch_id"} <= found.keys() else None
