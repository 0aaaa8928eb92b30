"""gold.ab_results' rows: per experiment, arm and window, the arm's figures with their intervals, and a row of the
challenger's difference with the verdict in words. Windows are cumulative: from the experiment's first score to
the end of each day a lead was scored, so the trend shows how the figures and intervals settle."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from leadscore.config import AbSettings
from leadscore.experiments.figures import (
    ARMS,
    HOT,
    ArmFigures,
    ArmLeads,
    arm_figures,
    difference,
    verdict,
)
from leadscore.experiments.statistics import Estimate

DIFFERENCE = "difference"  # the arm column of the challenger-minus-champion row
COUNTS = ("leads", "outcomes_known", "conversions", "hot_known", "hot_conversions", "top_decile_leads",
          "top_decile_conversions")  # fmt: skip
ESTIMATES = ("conversion_rate", "hot_conversion_rate", "auc", "precision_top_decile")
# gold.ab_results, in order; each estimate is three columns: the value, and its interval's low and high.
COLUMNS = (
    "experiment", "arm", "window_end", "model_versions", *COUNTS,
    *(f"{e}{part}" for e in ESTIMATES for part in ("", "_low", "_high")),
    "significant", "verdict", "level", "computed_at",
)  # fmt: skip
SCHEMA = ", ".join(
    f"{c} {kind}"
    for c, kind in (
        ("experiment", "string"), ("arm", "string"), ("window_end", "timestamp"), ("model_versions", "string"),
        *((c, "long") for c in COUNTS),
        *((f"{e}{part}", "double") for e in ESTIMATES for part in ("", "_low", "_high")),
        ("significant", "boolean"), ("verdict", "string"), ("level", "double"), ("computed_at", "timestamp"),
    )
)  # fmt: skip


def window_ends(scored_at: pd.Series) -> list[datetime]:
    """The end of each UTC day from the first score's to the last's."""
    first, last = (ts.tz_convert(UTC).normalize() + timedelta(days=1) for ts in (scored_at.min(), scored_at.max()))
    return [ts.to_pydatetime() for ts in pd.date_range(first, last, freq="D")]


def _arm_leads(leads: pd.DataFrame) -> ArmLeads:
    return ArmLeads(
        leads["score"].to_numpy(dtype=float),
        (leads["priority"] == HOT).to_numpy(),
        leads["outcome"].to_numpy(dtype=float, na_value=np.nan),
    )


def _estimate_cells(name: str, estimate: Estimate) -> dict:
    return {name: estimate.value, f"{name}_low": estimate.low, f"{name}_high": estimate.high}


def _arm_row(figures: ArmFigures) -> dict:
    row = {c: getattr(figures, c) for c in COUNTS}
    for name in ESTIMATES:
        row |= _estimate_cells(name, getattr(figures, name))
    return row


def rows(acted: pd.DataFrame, settings: AbSettings, computed_at: datetime, seed: int = 0) -> list[dict]:
    """`acted`: experiments.outcomes.acted_on's rows (one per lead) as pandas, `scored_at` in UTC."""
    if acted.empty:
        return []
    out = []
    for end in window_ends(acted["scored_at"]):
        window = acted[acted["scored_at"] < pd.Timestamp(end)]
        rng = np.random.default_rng(seed)
        figures = {arm: arm_figures(_arm_leads(window[window["arm"] == arm]), settings.level, rng) for arm in ARMS}
        diff = difference(figures, settings.level)
        said = verdict(figures, diff, settings.level, settings.power)
        common = {"experiment": settings.experiment, "window_end": end, "level": settings.level,
                  "computed_at": computed_at}  # fmt: skip
        for arm in ARMS:
            versions = ",".join(sorted(window.loc[window["arm"] == arm, "model_version"].dropna().unique()))
            named = {"arm": arm, "model_versions": versions}
            out.append(dict.fromkeys(COLUMNS) | common | _arm_row(figures[arm]) | named)
        difference_row = {"arm": DIFFERENCE, "significant": said.significant, "verdict": said.words}
        for name, estimate in asdict(diff).items():
            difference_row |= _estimate_cells(name, Estimate(**estimate))
        out.append(dict.fromkeys(COLUMNS) | common | difference_row)
    return out
