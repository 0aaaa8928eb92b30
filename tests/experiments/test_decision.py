"""promote --from-ab's decision: the challenger only when better beyond the interval, and still the challenger."""

from __future__ import annotations

import pytest

from leadscore.errors import LeadscoreError
from leadscore.experiments.decision import challenger_to_promote


def report(low: float, high: float, significant: bool, challenger_versions: str = "2") -> list[dict]:
    value = (low + high) / 2
    return [
        {"arm": "champion", "model_versions": "1"},
        {"arm": "challenger", "model_versions": challenger_versions},
        {"arm": "difference", "hot_conversion_rate": value, "hot_conversion_rate_low": low,
         "hot_conversion_rate_high": high, "significant": significant, "level": 0.95, "verdict": "words"},
    ]  # fmt: skip


def test_a_challenger_better_beyond_the_interval_is_promoted():
    assert challenger_to_promote(report(0.02, 0.10, True), "2") == "2"


@pytest.mark.parametrize(
    ("rows", "registry", "message"),
    [
        (report(-0.01, 0.07, False), "2", r"not better beyond the interval: hot_conversion_rate challenger - "
         r"champion \+0\.0300, 95% interval \[-0\.0100, \+0\.0700\]"),
        (report(-0.10, -0.02, True), "2", "not better beyond the interval"),  # the champion is the better one
        (report(0.02, 0.10, True, "2,3"), "3", r"measured challenger version\(s\) 2,3"),
        (report(0.02, 0.10, True), "3", "the registry's challenger is 3"),
        (report(0.02, 0.10, True)[:2], "2", "run `leadscore ab-report` first"),
    ],
)  # fmt: skip
def test_otherwise_it_is_an_error_naming_the_figure_and_its_interval(rows, registry, message):
    with pytest.raises(LeadscoreError, match=message):
        challenger_to_promote(rows, registry)
