"""Replays leads into a landing folder as files over time (or into a Kafka topic as bursts of messages), with
follow-up activity on leads seen before.

The stream's MERGE needs both kinds of row to be exercised: new leads to insert, and newer events of known leads to
update, so that the scores table gains history. Every draw comes from one seeded stream: the same arguments give
the same files. Files are written by generator.write_csv (the export's format) under a hidden name, then renamed
into place, so a stream watching the folder never sees part of one. Into a topic, each row is one message: a JSON
object keyed by the export's header names, keyed by the prospect id (so a lead's events share a partition, in order).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from kafka import KafkaProducer
from kafka.errors import KafkaError

from leadscore.errors import LeadscoreError
from leadscore.schema import PLACEHOLDER, SOURCE_HEADER
from leadscore.synthetic.calibration import LABEL, VISITS, packaged_profile, read_export
from leadscore.synthetic.generator import generate_chunks, split_rows, write_csv

GENERATED = "generated"
FILE_NAME = "replay-{:05d}.csv"
FILE_GLOB = "replay-*.csv"
# Far above the lead numbers `leadscore generate` hands out: replayed fresh leads never share one with an export.
FIRST_LEAD_NUMBER = 5_000_000
FOLLOW_UP_STREAM = 0xF011  # keys the follow-ups' random stream apart from the generator's
TIME_ON_SITE = "Total Time Spent on Website"
PAGES_PER_VISIT = "Page Views Per Visit"
ACTIVITY = "Last Activity"
NOTABLE = "Last Notable Activity"
MODIFIED = "Modified"  # the export's Last Notable Activity when the last activity is not a notable one
NEW_VISITS = (1, 4)  # per follow-up, [low, high)
TIME_PER_VISIT = (30, 400)
PAGES_PER_NEW_VISIT = (1.0, 6.0)
_MS = 1_000_000  # nanoseconds

AT = {name: i for i, name in enumerate(SOURCE_HEADER)}
ID = AT["Prospect ID"]
Row = list[str]

log = logging.getLogger("leadscore")


@dataclass(frozen=True)
class Topic:
    """A Kafka topic to replay into, instead of a landing folder."""

    bootstrap_servers: str
    name: str

    def __str__(self) -> str:
        return f"topic {self.name} at {self.bootstrap_servers}"


@dataclass(frozen=True)
class ReplayedFile:
    path: Path | Topic  # the file landed, or the topic a burst of messages went to
    number: int
    rows: int  # follow-ups included
    follow_ups: int


@dataclass(frozen=True)
class _Activities:
    names: np.ndarray
    weights: tuple[np.ndarray, np.ndarray]  # per label
    notable: frozenset[str]


@cache
def _activities() -> _Activities:
    """The real Last Activity categories and frequencies per label (pooled rare ones share their slot evenly)."""
    categorical = packaged_profile()["categorical"]
    spec = categorical[ACTIVITY]
    kept = [i for i, name in enumerate(spec["values"]) if name not in ("", PLACEHOLDER)]
    other = spec["other"]

    def weights(p: list[float]) -> np.ndarray:
        pooled = [p[len(spec["values"])] / len(other)] * len(other) if other else []
        return np.array([p[i] for i in kept] + pooled)

    notable = categorical[NOTABLE]
    return _Activities(
        names=np.array([spec["values"][i] for i in kept] + other, dtype=object),
        weights=(weights(spec["p"][0]), weights(spec["p"][1])),
        notable=frozenset(notable["values"] + notable["other"]) - {""},
    )


def _count(text: str) -> int:
    """An export number as an int; '' (not recorded) counts as none."""
    return int(float(text)) if text else 0


def _decimal(x: float) -> str:
    """The export's number format: 5, 2.5, 2.33."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def follow_up(row: Sequence[str], rng: np.random.Generator) -> Row:
    """The same lead back on the site: more visits and time on site, page views per visit averaged over all
    visits (never above the visits, as in the export), and a new last activity drawn from the real categories."""
    visits, time_on_site = _count(row[AT[VISITS]]), _count(row[AT[TIME_ON_SITE]])
    pages = float(row[AT[PAGES_PER_VISIT]] or 0) * visits
    new_visits = int(rng.integers(*NEW_VISITS))
    total = visits + new_visits
    pages += rng.uniform(*PAGES_PER_NEW_VISIT, size=new_visits).sum()
    time_on_site += int(rng.integers(*TIME_PER_VISIT, size=new_visits).sum())

    activities = _activities()
    weights = activities.weights[int(row[AT[LABEL]] == "1")].copy()
    weights[activities.names == row[AT[ACTIVITY]]] = 0.0  # a new activity, not the last one again
    activity = str(rng.choice(activities.names, p=weights / weights.sum()))

    out = list(row)
    out[AT[VISITS]] = str(total)
    out[AT[TIME_ON_SITE]] = str(time_on_site)
    out[AT[PAGES_PER_VISIT]] = _decimal(min(round(pages / total, 2), total))
    out[AT[ACTIVITY]] = activity
    out[AT[NOTABLE]] = activity if activity in activities.notable else MODIFIED
    return out


def with_follow_ups(
    batches: Iterable[list[Row]], share: float, seed: int, seen: Iterable[Sequence[str]] = ()
) -> Iterator[tuple[list[Row], int]]:
    """Each batch of new leads, in order, with follow-ups of leads from earlier batches (or `seen`) spread among them.

    Follow-ups make up `share` of each file's rows, as far as there are earlier leads to follow up, each lead at
    most once per file and always from its latest state, so its visits and time keep growing. Yields
    (rows, follow-ups among them).
    """
    if not 0 <= share < 1:
        raise LeadscoreError(f"the follow-up share must be at least 0 and below 1, not {share}")
    rng = np.random.default_rng([seed, FOLLOW_UP_STREAM])
    latest: dict[str, Sequence[str]] = {}
    for row in seen:
        latest[row[ID]] = row
    ids = list(latest)
    for batch in batches:
        count = min(round(len(batch) * share / (1 - share)), len(ids))
        picked = np.sort(rng.choice(len(ids), size=count, replace=False))
        follow_ups = iter([follow_up(latest[ids[i]], rng) for i in picked])
        is_follow_up = np.zeros(len(batch) + count, dtype=bool)
        is_follow_up[rng.choice(len(is_follow_up), size=count, replace=False)] = True
        new_leads = iter(batch)
        rows = [next(follow_ups) if slot else next(new_leads) for slot in is_follow_up]
        for row in rows:
            if row[ID] not in latest:
                ids.append(row[ID])
            latest[row[ID]] = row
        yield rows, count


def source_batches(source: str | Path, files: int, rows: int | None = None, seed: int = 0) -> Iterator[list[Row]]:
    """New leads per file: the rows of an export (its first `rows`), or `rows` fresh generated leads."""
    if str(source) == GENERATED:
        if rows is None:
            raise LeadscoreError("--source generated needs --rows")
        leads: Sequence[Row] | None = None
        total = rows
    else:
        if not Path(source).is_file():
            raise LeadscoreError(f"source not found: {source}")
        leads = read_export(source)
        total = len(leads) if rows is None else rows
        if total > len(leads):
            raise LeadscoreError(f"{source} holds {len(leads)} leads, fewer than the {rows} asked for")
    if total < 1:
        raise LeadscoreError(f"nothing to replay: {total} leads")
    if not 1 <= files <= total:
        raise LeadscoreError(f"files must be between 1 and the number of leads ({total}), not {files}")
    start = 0
    for count in split_rows(total, files):
        if leads is None:
            first = FIRST_LEAD_NUMBER + start
            yield [row for chunk in generate_chunks(count, seed, first_lead_number=first) for row in chunk]
        else:
            yield list(leads[start : start + count])
        start += count


def _land(path: Path, rows: list[Row], after_ns: int) -> int:
    """Writes the file under a hidden name, stamps it a whole millisecond after `after_ns`, renames it into place.

    The stream orders a lead's events by their file's modification time in milliseconds (what Hadoop reports), so
    a follow-up must land in a later millisecond than the file holding the event it follows, even back to back.
    """
    staged = path.with_name(f".{path.name}.staged")
    write_csv(staged, [rows])
    stamp = max(staged.stat().st_mtime_ns // _MS * _MS, after_ns + _MS)
    os.utime(staged, ns=(stamp, stamp))
    os.replace(staged, path)
    return stamp


def message(row: Row) -> tuple[bytes, bytes]:
    """A row as a Kafka message: (key: the prospect id, value: a JSON object keyed by the export's header names)."""
    return row[ID].encode(), json.dumps(dict(zip(SOURCE_HEADER, row, strict=True))).encode()


class _Folder:
    """Each batch of rows lands as one export file."""

    def __init__(self, landing: Path):
        earlier = sorted(landing.glob(FILE_GLOB))
        if earlier:
            raise LeadscoreError(
                f"{landing} already holds replayed files ({earlier[0].name}, ...): replay into a new folder"
            )
        landing.mkdir(parents=True, exist_ok=True)
        self.landing, self.stamp = landing, 0

    def deliver(self, number: int, rows: list[Row]) -> Path:
        path = self.landing / FILE_NAME.format(number)
        self.stamp = _land(path, rows, self.stamp)
        return path

    def close(self) -> dict:
        return {"landing": str(self.landing)}


class _Producer:
    """Each batch of rows is sent as messages, all acknowledged by the broker before the next batch."""

    def __init__(self, topic: Topic):
        try:
            self.producer = KafkaProducer(bootstrap_servers=topic.bootstrap_servers, acks="all", linger_ms=5)
        except KafkaError as error:
            raise LeadscoreError(f"Kafka at {topic.bootstrap_servers}: {error}") from None
        self.topic = topic

    def deliver(self, number: int, rows: list[Row]) -> Topic:
        for key, value in map(message, rows):
            self.producer.send(self.topic.name, key=key, value=value)
        self.producer.flush()
        return self.topic

    def close(self) -> dict:
        self.producer.close()
        return {"topic": self.topic.name, "bootstrap_servers": self.topic.bootstrap_servers}


def replay(
    source: str | Path,
    landing: str | Path | Topic,
    files: int,
    interval_seconds: float = 0.0,
    *,
    rows: int | None = None,
    follow_up_share: float = 0.2,
    seed: int = 0,
    seen: str | Path | None = None,
    on_file: Callable[[ReplayedFile], None] | None = None,
    stop: threading.Event | None = None,
) -> dict:
    """Replays `source` (an export CSV, or "generated") into `landing` as `files` files, `interval_seconds` apart;
    into a `Topic`, as `files` bursts of messages.

    `rows` limits an export to its first rows and is required for generated leads. Follow-ups come from earlier
    files and from the leads of `seen` (an export already ingested). `on_file` is called after each file lands;
    setting `stop` (from another thread) ends the replay before its next file. Returns the figures of what landed:
    `rows` counts every row written, follow-ups included.
    """
    if interval_seconds < 0:
        raise LeadscoreError(f"the interval must not be negative, not {interval_seconds}")
    if seed < 0:
        raise LeadscoreError(f"the seed must not be negative, not {seed}")
    seen_rows = read_export(seen) if seen else []
    batches = with_follow_ups(source_batches(source, files, rows, seed), follow_up_share, seed, seen_rows)
    first = next(batches)  # the arguments are checked before anything is written or connected to
    sink = _Producer(landing) if isinstance(landing, Topic) else _Folder(Path(landing))
    wait = stop.wait if stop is not None else time.sleep
    written = total_rows = total_follow_ups = 0
    for number, (batch, follow_ups) in enumerate(itertools.chain([first], batches), start=1):
        if number > 1 and interval_seconds:
            wait(interval_seconds)
        if stop is not None and stop.is_set():
            break
        where = sink.deliver(number, batch)
        written, total_rows, total_follow_ups = number, total_rows + len(batch), total_follow_ups + follow_ups
        log.info("simulate: %s, %d rows (%d follow-ups), %d of %d", where, len(batch), follow_ups, number, files)
        if on_file is not None:
            on_file(ReplayedFile(where, number, len(batch), follow_ups))
    return {"files": written, "rows": total_rows, "follow_ups": total_follow_ups, **sink.close()}


def split_export(
    source: str | Path,
    out_historical: str | Path,
    out_holdout: str | Path,
    historical_share: float = 0.7,
    seed: int = 0,
) -> dict:
    """Splits an export into a historical part (ingested up front) and a hold-out part (replayed as a stream).

    Exactly round(share x rows) leads go to the historical part, chosen by the seed; both parts keep the export's
    row order, and every row lands in exactly one of them.
    """
    if not 0 < historical_share < 1:
        raise LeadscoreError(f"the historical share must be between 0 and 1, not {historical_share}")
    if seed < 0:
        raise LeadscoreError(f"the seed must not be negative, not {seed}")
    leads = read_export(source)
    historical = np.zeros(len(leads), dtype=bool)
    historical[np.random.default_rng(seed).permutation(len(leads))[: round(len(leads) * historical_share)]] = True
    parts = {
        "historical": write_csv(out_historical, [[row for row, keep in zip(leads, historical, strict=True) if keep]]),
        "holdout": write_csv(out_holdout, [[row for row, keep in zip(leads, historical, strict=True) if not keep]]),
    }
    log.info(
        "split: %d historical leads to %s, %d held out to %s",
        parts["historical"],
        out_historical,
        parts["holdout"],
        out_holdout,
    )
    return parts
