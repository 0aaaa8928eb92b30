"""gold.ab_results' rows: cumulative daily windows, both arms and their difference with the verdict."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from leadscore.config import load_config
from leadscore.experiments.report import COLUMNS, DIFFERENCE, rows

SETTINGS = load_config("local").ab


def acted(rng: np.random.Generator, leads: int) -> pd.DataFrame:
    """Leads over two days; the challenger's model knows each lead's conversion probability, the champion's not."""
    p = rng.beta(1, 3, leads)
    arm = np.where(rng.random(leads) < 0.5, "challenger", "champion")
    score = np.where(arm == "challenger", p, rng.random(leads))
    outcome = np.where(rng.random(leads) < 0.9, (rng.random(leads) < p).astype(float), np.nan)
    hours = rng.integers(0, 48, leads)
    return pd.DataFrame({
        "prospect_id": [f"l{i}" for i in range(leads)], "arm": arm,
        "model_version": np.where(arm == "challenger", "2", "1"), "score": score,
        "priority": np.where(score >= 0.5, "hot", np.where(score >= 0.3, "warm", "cold")),
        "scored_at": pd.to_datetime("2026-12-01", utc=True) + pd.to_timedelta(hours, unit="h"), "outcome": outcome,
    })  # fmt: skip


def test_two_days_give_two_cumulative_windows_of_both_arms_and_their_difference():
    data = acted(np.random.default_rng(9), 4000)
    now = datetime(2026, 12, 3, tzinfo=UTC)
    result = rows(data, SETTINGS, now)
    assert [(r["window_end"].day, r["arm"]) for r in result] == [
        (2, "champion"), (2, "challenger"), (2, DIFFERENCE), (3, "champion"), (3, "challenger"), (3, DIFFERENCE)
    ]  # fmt: skip
    assert all(set(r) == set(COLUMNS) for r in result)
    first_day, both_days = result[:3], result[3:]
    assert first_day[0]["leads"] + first_day[1]["leads"] == (data["scored_at"] < "2026-12-02").sum()
    assert both_days[0]["leads"] + both_days[1]["leads"] == 4000
    assert both_days[1]["model_versions"] == "2" and both_days[0]["outcomes_known"] < both_days[0]["leads"]
    final = both_days[2]
    assert final["significant"] and final["hot_conversion_rate_low"] > 0 and final["auc_low"] > 0
    assert final["verdict"].startswith("the challenger converts better among hot leads")
    # the interval narrows as outcomes gather
    widths = [r["hot_conversion_rate_high"] - r["hot_conversion_rate_low"] for r in (first_day[2], final)]
    assert widths[1] < widths[0]


def test_no_leads_no_rows():
    assert rows(acted(np.random.default_rng(1), 0), SETTINGS, datetime(2026, 12, 3, tzinfo=UTC)) == []
