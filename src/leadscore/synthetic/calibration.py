"""Facts, not rows: the profile of a real lead export that the synthetic generator samples from.

Everything is conditional on the label (naive-Bayes style) so a model trained on generated leads learns a signal
like the real one. The dependencies below are those a naive-Bayes draw would break and the real export keeps:
a lead with no visit has no page views and no time on site, a lead with unknown visits has unknown page views,
the four Asymmetrique columns are missing together and each index is a band of its score.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from leadscore.errors import LeadscoreError
from leadscore.schema import COLUMNS, PLACEHOLDER, SOURCE_HEADER

PROFILE_FORMAT = 1
LABEL = "Converted"
IDS = ("Prospect ID", "Lead Number")  # unique per lead: never profiled
VISITS = "TotalVisits"
ACTIVITY_SCORE = "Asymmetrique Activity Score"
# follower -> leader: the follower is missing whenever the leader is.
MISSING_WITH = {"Page Views Per Visit": VISITS, "Asymmetrique Profile Score": ACTIVITY_SCORE}
# follower -> leader: the follower is 0 whenever the leader is 0.
ZERO_WITH = {"Total Time Spent on Website": VISITS, "Page Views Per Visit": VISITS}
# follower -> leader: the follower never exceeds the leader (views per visit <= visits in every real row).
AT_MOST = {"Page Views Per Visit": VISITS}
# index column -> the score it is a band of.
BAND_OF = {"Asymmetrique Activity Index": ACTIVITY_SCORE, "Asymmetrique Profile Index": "Asymmetrique Profile Score"}
NUMERIC = tuple(c.source for c in COLUMNS if c.kind in ("int", "double") and c.source not in IDS)
CATEGORICAL = tuple(c.source for c in COLUMNS if c.source not in (*IDS, LABEL, *NUMERIC, *BAND_OF))
# Values seen fewer times than this are pooled: one probability, names drawn uniformly.
MIN_COUNT = 10
QUANTILES = 101


def read_export(path: str | Path) -> list[list[str]]:
    """Rows of an export as 37 strings each; the trailing delimiter's empty 38th field is dropped."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(header[: len(SOURCE_HEADER)]) != SOURCE_HEADER:
            raise LeadscoreError(f"{path}: header is not the lead export's {len(SOURCE_HEADER)} columns")
        width = len(header)
        rows = []
        for number, row in enumerate(reader, start=2):
            if len(row) != width:
                raise LeadscoreError(f"{path}: line {number} has {len(row)} fields, the header {width}")
            rows.append(row[: len(SOURCE_HEADER)])
    return rows


def build_profile(rows: Sequence[Sequence[str]]) -> dict[str, Any]:
    """The profile of rows in source column order (as `read_export` returns them)."""
    at = {name: i for i, name in enumerate(SOURCE_HEADER)}
    labels = [row[at[LABEL]] for row in rows]
    if set(labels) != {"0", "1"}:
        raise LeadscoreError(f"{LABEL} must hold both 0 and 1 and nothing else, found {sorted(set(labels))}")
    y = np.array(labels) == "1"
    columns = {name: [row[at[name]] for row in rows] for name in (*CATEGORICAL, *NUMERIC, *BAND_OF)}
    return {
        "format": PROFILE_FORMAT,
        "rows": len(rows),
        "conversion_rate": _round(y.mean()),
        "categorical": {name: _categorical(columns[name], y) for name in CATEGORICAL},
        "numeric": _numeric(columns, y),
        "bands": {index: _bands(columns[index], columns[score], score) for index, score in BAND_OF.items()},
        "dependencies": {"missing_with": MISSING_WITH, "zero_with": ZERO_WITH, "at_most": AT_MOST},
    }


def _categorical(values: list[str], y: np.ndarray) -> dict[str, Any]:
    """Frequencies per label; '' (missing) and the placeholder are kept apart, they are never pooled."""
    counts = Counter(values)
    kept = [v for v, n in counts.most_common() if n >= MIN_COUNT or v in ("", PLACEHOLDER)]
    other = sorted(v for v in counts if v not in kept)
    slot = {v: i for i, v in enumerate(kept)} | {v: len(kept) for v in other}
    index = np.array([slot[v] for v in values])
    width = len(kept) + bool(other)
    p = [np.bincount(index[y == label], minlength=width) / (y == label).sum() for label in (False, True)]
    return {"values": kept, "other": other, "p": [[_round(x) for x in row] for row in p]}


def _numeric(columns: dict[str, list[str]], y: np.ndarray) -> dict[str, Any]:
    """Missing rate, share of zeros and quantiles of the rest, each per label and given the column's leaders."""
    parsed = {name: _parse(name, columns[name]) for name in NUMERIC}
    profile = {}
    for name in NUMERIC:
        x = parsed[name]
        missing = np.isnan(x)
        may_miss = ~np.isnan(parsed[MISSING_WITH[name]]) if name in MISSING_WITH else np.ones_like(y)
        may_zero = ~missing & (parsed[ZERO_WITH[name]] != 0 if name in ZERO_WITH else True)
        positive = ~missing & (x != 0)
        of = (y == 0, y == 1)
        for label in (0, 1):
            if not positive[of[label]].any():
                raise LeadscoreError(f"{name}: no non-zero value among leads with {LABEL} = {label}")
        profile[name] = {
            "decimals": max(len(v.partition(".")[2]) for v in columns[name]),
            "missing": [_share(missing, may_miss & o) for o in of],
            "zero": [_share(x == 0, may_zero & o) for o in of],
            "quantiles": [[_round(q) for q in _quantiles(x, parsed.get(AT_MOST.get(name)), positive & o)] for o in of],
        }
    return profile


def _quantiles(x: np.ndarray, cap: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
    """Quantiles of x; under a cap, of the value before capping, so that min(draw, cap) gives back x.

    68% of real page-views-per-visit equal the visits (the cap): read as right-censored, the uncapped
    distribution comes from the product-limit (Kaplan-Meier) estimate; mass it cannot place goes to the maximum.
    """
    levels = np.linspace(0, 1, QUANTILES)
    if cap is None:
        return np.quantile(x[rows], levels)
    seen, capped = x[rows], x[rows] >= cap[rows]
    ordered = np.sort(seen)
    if capped.all():  # nothing below its cap to estimate from
        return np.full(QUANTILES, ordered[-1])
    values, events = np.unique(seen[~capped], return_counts=True)
    at_risk = len(seen) - np.searchsorted(ordered, values, side="left")
    below = 1 - np.cumprod(1 - events / at_risk)
    slot = np.searchsorted(below, levels, side="left")
    return np.where(slot < len(values), values[np.minimum(slot, len(values) - 1)], ordered[-1])


def _bands(index: list[str], score: list[str], score_name: str) -> dict[str, Any]:
    """Each observed score's most frequent index: the export derives the index from the score."""
    pairs = Counter((s, i) for s, i in zip(score, index, strict=True) if s and i)
    band: dict[float, str] = {}
    for (s, i), _ in pairs.most_common():
        band.setdefault(float(s), i)
    scores = sorted(band)
    return {"score": score_name, "scores": scores, "labels": [band[s] for s in scores]}


def _parse(name: str, values: list[str]) -> np.ndarray:
    try:
        return np.array([float(v) if v else np.nan for v in values])
    except ValueError as error:
        raise LeadscoreError(f"{name}: {error}") from error


def _share(flags: np.ndarray, among: np.ndarray) -> float:
    return _round(flags[among].mean()) if among.any() else 0.0


def _round(x: float) -> float:
    return round(float(x), 6)


def to_json(value: Any, indent: str = "") -> str:
    """JSON with one key per line but lists of numbers on one line: a profile that reads and diffs well."""
    if isinstance(value, dict):
        inner = indent + "  "
        items = ",\n".join(f"{inner}{json.dumps(k)}: {to_json(v, inner)}" for k, v in value.items())
        return "{\n" + items + "\n" + indent + "}" if value else "{}"
    if isinstance(value, list | tuple) and any(isinstance(v, list | tuple | dict) for v in value):
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + to_json(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False)


def write_profile(profile: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_json(profile) + "\n", encoding="utf-8")
    return path


def calibrate(source: str | Path, out: str | Path) -> dict[str, Any]:
    """Profiles the export at `source` and writes the profile to `out`."""
    profile = build_profile(read_export(source))
    write_profile(profile, out)
    return profile


@cache
def packaged_profile() -> dict[str, Any]:
    """The profile committed with the package (`leadscore calibrate` on the real export regenerates it)."""
    return json.loads((files("leadscore.synthetic") / "profile.json").read_text(encoding="utf-8"))
