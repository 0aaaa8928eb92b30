"""The tag a streaming query's write leaves in its Delta commit's `userMetadata`: the (query, batch) it belongs to,
and what the batch records there, if anything.

One format, written by the queries (streaming.commits) and read both by them (a replayed batch finds its commit) and by
the console (leadscore.monitoring.batches reads the scores batches' records from history). Plain Python: the
console has no Spark.
"""

from __future__ import annotations

import json


def tag(query_id: str, batch_id: int, record: dict | None = None) -> str:
    return json.dumps({"query_id": query_id, "batch_id": batch_id, **(record or {})})


# Operations that carry a batch's tag without being its write: Delta's auto compaction runs as a hook of the write's
# commit, in the writer's session, so its OPTIMIZE inherits the tag (and record) the session set for the write.
NOT_A_WRITE = ("OPTIMIZE",)


def parsed(user_metadata: str | None, operation: str) -> dict | None:
    """The tag a commit carries, or None for a commit by another writer (no text, or text of its own) and for an
    operation that is `NOT_A_WRITE`."""
    if operation in NOT_A_WRITE:
        return None
    try:
        found = json.loads(user_metadata or "")
    except ValueError:
        return None
    return found if isinstance(found, dict) and {"query_id", "batch_id"} <= found.keys() else None
