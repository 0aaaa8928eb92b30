"""One writer per checkpoint: an advisory lock a second query on the same checkpoint stops at."""

from __future__ import annotations

import fcntl
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

from leadscore.errors import LeadscoreError


class QueryLock:
    """One writer per checkpoint: a second process starting a query on a checkpoint that a running process holds
    stops at once, naming who holds it, before it writes anything.

    The lock is an advisory `flock` on `<checkpoint>.lock`, held until the process ends (so a `kill -9` frees
    it). It needs a local or FUSE path (locally, and /Volumes on Databricks); a checkpoint given as a URI
    (s3://, abfss://) is left to the job's `max_concurrent_runs: 1`.
    """

    _held: dict[str, int] = {}  # lock file -> open descriptor, for the life of the process

    @classmethod
    def acquire(cls, checkpoint: str, query: str) -> None:
        if "://" in checkpoint and not checkpoint.startswith("file:"):
            return
        path = Path(checkpoint.removeprefix("file:")).with_suffix(".lock")
        if str(path) in cls._held:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(descriptor, 4096).decode(errors="replace").strip() or "another process"
            os.close(descriptor)
            raise LeadscoreError(
                f"the {query} query is already running ({holder}) on checkpoint {checkpoint}: one writer per "
                "lakehouse; stop it first"
            ) from None
        owner = f"pid {os.getpid()} on {socket.gethostname()}, since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, owner.encode(), 0)
        cls._held[str(path)] = descriptor
