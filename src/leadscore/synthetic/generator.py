"""Synthetic leads in the real export's format, sampled from the calibration profile (facts, never real rows).

The label comes first, with the real conversion rate; every other column is drawn given the label, plus the
dependencies the profile names, so a model learns a signal like the real one. Work is vectorised per chunk and
streamed to disk, so memory stays flat however many rows are asked for. The random stream is keyed by
(seed, first lead number): the same arguments give the same bytes, and each file or micro-batch of one run draws
its own leads.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from leadscore.schema import SOURCE_HEADER
from leadscore.synthetic.calibration import IDS, LABEL, packaged_profile

FIRST_LEAD_NUMBER = 700_000  # above every real lead number, so generated and real leads never share one
CHUNK_SIZE = 100_000
FILE_NAME = "leads-{:05d}.csv"

log = logging.getLogger("leadscore")

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_DIGITS = [i for i in range(36) if i not in (8, 13, 18, 23)]


@dataclass(frozen=True)
class _Categorical:
    values: np.ndarray  # object array of str; the last slot stands for the pooled rare values when `other` is set
    other: np.ndarray
    cumulative: tuple[np.ndarray, np.ndarray]  # per label


@dataclass(frozen=True)
class _Numeric:
    decimals: int
    missing: np.ndarray  # per label
    zero: np.ndarray  # per label
    quantiles: tuple[np.ndarray, np.ndarray]  # per label
    missing_with: str | None
    zero_with: str | None
    at_most: str | None


@dataclass(frozen=True)
class _Model:
    conversion_rate: float
    categorical: dict[str, _Categorical]
    numeric: dict[str, _Numeric]
    bands: dict[str, tuple[str, np.ndarray, np.ndarray]]  # index column -> (score column, scores, labels)


def _cumulative(p: list[float]) -> np.ndarray:
    """Normalised cumulative probabilities, exactly 1 from the last possible value on: every uniform draw in
    [0, 1) lands on a value, never on one the label did not show (rounding could leave a sliver there)."""
    c = np.cumsum(p) / np.sum(p)
    c[np.flatnonzero(p)[-1] :] = 1.0
    return c


def _compile(profile: dict[str, Any]) -> _Model:
    deps = profile["dependencies"]
    categorical = {
        name: _Categorical(
            values=np.array([*spec["values"], ""] if spec["other"] else spec["values"], dtype=object),
            other=np.array(spec["other"], dtype=object),
            cumulative=(_cumulative(spec["p"][0]), _cumulative(spec["p"][1])),
        )
        for name, spec in profile["categorical"].items()
    }
    numeric = {
        name: _Numeric(
            decimals=spec["decimals"],
            missing=np.array(spec["missing"]),
            zero=np.array(spec["zero"]),
            quantiles=(np.array(spec["quantiles"][0]), np.array(spec["quantiles"][1])),
            missing_with=deps["missing_with"].get(name),
            zero_with=deps["zero_with"].get(name),
            at_most=deps["at_most"].get(name),
        )
        for name, spec in profile["numeric"].items()
    }
    bands = {
        index: (spec["score"], np.array(spec["scores"]), np.array(spec["labels"], dtype=object))
        for index, spec in profile["bands"].items()
    }
    return _Model(profile["conversion_rate"], categorical, numeric, bands)


@cache
def _packaged_model() -> _Model:
    return _compile(packaged_profile())


def _by_label(
    y: np.ndarray, per_label: tuple[np.ndarray, np.ndarray], draw: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    return np.where(y, draw(per_label[1]), draw(per_label[0]))


def _draw_categorical(rng: np.random.Generator, spec: _Categorical, y: np.ndarray) -> np.ndarray:
    u = rng.random(len(y))
    slot = _by_label(y, spec.cumulative, lambda c: np.searchsorted(c, u, side="right"))
    out = spec.values[slot]
    if len(spec.other):
        pooled = slot == len(spec.values) - 1
        out[pooled] = spec.other[rng.integers(len(spec.other), size=int(pooled.sum()))]
    return out


def _draw_numeric(
    rng: np.random.Generator, spec: _Numeric, y: np.ndarray, drawn: dict[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """(values, missing) of one numeric column; leaders named by the dependencies are drawn before followers."""
    u_missing, u_zero, u_value = rng.random((3, len(y)))
    label = y.astype(np.intp)
    missing = u_missing < spec.missing[label]
    zero = u_zero < spec.zero[label]
    grid = np.arange(len(spec.quantiles[0]))
    x = _by_label(y, spec.quantiles, lambda q: np.interp(u_value * (len(q) - 1), grid, q))
    x = np.round(x, spec.decimals)
    if spec.missing_with:
        missing |= drawn[spec.missing_with][1]
    if spec.zero_with:
        leader, leader_missing = drawn[spec.zero_with]
        zero |= ~leader_missing & (leader == 0)
    if spec.at_most:
        leader, leader_missing = drawn[spec.at_most]
        x = np.where(leader_missing, x, np.minimum(x, leader))
    return np.where(zero, 0.0, x), missing


def _format(x: np.ndarray, missing: np.ndarray, decimals: int) -> np.ndarray:
    """The export's number format: 5, 2.5, 2.33 (no trailing zeros); '' where missing."""
    scale = 10**decimals
    whole, fraction = np.divmod(np.rint(x * scale).astype(np.int64), scale)
    text = np.array(list(map(str, whole.tolist())), dtype=object)
    if decimals:
        digits = np.array([f".{f:0{decimals}d}".rstrip("0").rstrip(".") for f in range(scale)], dtype=object)
        text = text + digits[fraction]
    text[missing] = ""
    return text


def _uuid4(rng: np.random.Generator, n: int) -> np.ndarray:
    """UUID4-format strings from the seeded stream: uuid.uuid4 reads the OS's entropy, which no seed reproduces."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = raw[:, 6] & 0x0F | 0x40  # version 4
    raw[:, 8] = raw[:, 8] & 0x3F | 0x80  # RFC 4122 variant
    nibbles = np.empty((n, 32), dtype=np.uint8)
    nibbles[:, 0::2], nibbles[:, 1::2] = raw >> 4, raw & 0x0F
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    text[:, _UUID_DIGITS] = _HEX[nibbles]
    return text.view("S36").ravel().astype("U36").astype(object)


def _chunk(rng: np.random.Generator, model: _Model, n: int, first_lead_number: int) -> list[list[str]]:
    y = rng.random(n) < model.conversion_rate
    columns: dict[str, np.ndarray] = {
        IDS[0]: _uuid4(rng, n),
        IDS[1]: np.array([str(i) for i in range(first_lead_number, first_lead_number + n)], dtype=object),
        LABEL: np.where(y, "1", "0").astype(object),
    }
    drawn: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in SOURCE_HEADER:
        if name in model.categorical:
            columns[name] = _draw_categorical(rng, model.categorical[name], y)
        elif name in model.numeric:
            spec = model.numeric[name]
            drawn[name] = _draw_numeric(rng, spec, y, drawn)
            columns[name] = _format(*drawn[name], spec.decimals)
    for index, (score, scores, labels) in model.bands.items():
        x, missing = drawn[score]
        band = labels[np.clip(np.searchsorted(scores, x), 0, len(scores) - 1)]
        band[missing] = ""
        columns[index] = band
    return list(map(list, zip(*(columns[name].tolist() for name in SOURCE_HEADER), strict=True)))


def generate_chunks(
    rows: int, seed: int, chunk_size: int = CHUNK_SIZE, first_lead_number: int = FIRST_LEAD_NUMBER
) -> Iterator[list[list[str]]]:
    """Rows of 37 strings in source column order, `chunk_size` at a time; lead numbers count up from the first."""
    rng = np.random.default_rng([seed, first_lead_number])
    model = _packaged_model()
    for start in range(0, rows, chunk_size):
        yield _chunk(rng, model, min(chunk_size, rows - start), first_lead_number + start)


def write_csv(path: str | Path, chunks: Iterable[list[list[str]]]) -> int:
    """Writes the header and rows like the real export, atomically; returns the number of rows.

    A hidden temporary name in the same folder, then os.replace: readers (Spark's file sources skip names that
    start with '.') never see a half-written file. The line terminator carries the trailing delimiter.
    """
    path = Path(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    count = 0
    try:
        with open(temp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator=",\r\n")
            writer.writerow(SOURCE_HEADER)
            for chunk in chunks:
                writer.writerows(chunk)
                count += len(chunk)
                del chunk  # else it stays alive while the next one is drawn: two chunks' memory at the peak
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return count


def split_rows(rows: int, files: int) -> list[int]:
    """Rows per file: as even as can be, the first files taking one more."""
    return [rows // files + (i < rows % files) for i in range(files)]


def generate(rows: int, seed: int, files: int, out_dir: str | Path) -> list[Path]:
    """`files` files leads-00001.csv … in out_dir holding `rows` leads in all, lead numbers unique across them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    first = FIRST_LEAD_NUMBER
    for number, count in enumerate(split_rows(rows, files), start=1):
        path = out / FILE_NAME.format(number)
        write_csv(path, generate_chunks(count, seed, first_lead_number=first))
        log.info("generate: %s, %d rows (%d of %d files)", path, count, number, files)
        paths.append(path)
        first += count
    return paths
