"""The experiment's statistics against published values and independent implementations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from leadscore.experiments.statistics import (
    auc,
    bootstrap_aucs,
    newcombe,
    outcomes_needed,
    percentile_interval,
    top_share_hits,
    wilson,
)


def test_wilson_and_newcombe_match_newcombes_published_examples():
    """Newcombe (1998), Statistics in Medicine 17: Wilson for 81/263; the hybrid score difference for 56/70 - 48/80."""
    interval = wilson(81, 263, 0.95)
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.2553, 0.3662)
    difference = newcombe((48, 80), (56, 70), 0.95)
    assert (round(difference.value, 4), round(difference.low, 4), round(difference.high, 4)) == (0.2, 0.0524, 0.3339)
    assert difference.excludes_zero and not newcombe((5, 10), (6, 10), 0.95).excludes_zero


def test_a_rate_of_no_trials_has_no_value_and_no_interval():
    assert wilson(0, 0, 0.95).value is None and newcombe((0, 0), (3, 9), 0.95).value is None


@pytest.mark.parametrize("decimals", [None, 1])  # continuous scores, and scores with many ties
def test_auc_is_sklearns_and_none_without_both_outcomes(decimals):
    rng = np.random.default_rng(7)
    scores = rng.random(2000)
    scores = scores if decimals is None else np.round(scores, decimals)
    outcomes = (rng.random(2000) < scores).astype(int)
    assert auc(scores, outcomes) == pytest.approx(roc_auc_score(outcomes, scores), abs=1e-12)
    assert auc(scores, np.zeros(2000, dtype=int)) is None


def test_the_bootstrap_interval_holds_the_auc_and_narrows_with_more_outcomes():
    rng = np.random.default_rng(3)
    widths = []
    for size in (200, 5000):
        scores = rng.random(size)
        outcomes = (rng.random(size) < scores).astype(int)
        interval = percentile_interval(auc(scores, outcomes), bootstrap_aucs(scores, outcomes, rng), 0.95)
        assert interval.low < interval.value < interval.high
        widths.append(interval.high - interval.low)
    assert widths[1] < widths[0] / 3  # about sqrt(25) = 5 times narrower


def test_the_top_decile_is_the_highest_tenth_of_scores_at_least_one_lead():
    scores = np.arange(20) / 20
    outcomes = np.r_[np.zeros(18, dtype=int), 1, 0]
    assert top_share_hits(scores, outcomes) == (1, 2)
    assert top_share_hits(scores[:3], outcomes[:3]) == (0, 1)


def test_outcomes_needed_is_the_textbook_two_proportion_size():
    """Fleiss' formula without continuity correction: 10% against 15%, two-sided 5%, 80% power: 686 per group."""
    assert outcomes_needed(0.10, 0.15, 0.95, 0.8) == 686
    assert outcomes_needed(0.2, 0.2, 0.95, 0.8) is None
