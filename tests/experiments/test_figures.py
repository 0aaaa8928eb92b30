"""Per-arm figures, the challenger's difference and the verdict, on arms drawn with a known conversion probability."""

from __future__ import annotations

import numpy as np

from leadscore.experiments.figures import (
    CHALLENGER,
    CHAMPION,
    ArmLeads,
    arm_figures,
    difference,
    verdict,
)

LEVEL, POWER = 0.95, 0.8


def drawn_arm(rng: np.random.Generator, leads: int, informative: bool, known_share: float = 0.8) -> ArmLeads:
    """Leads whose conversion probability is p; an informative model scores p with noise, an uninformative one at
    random. The arm's top 20% by score are hot; a share of outcomes is known."""
    p = rng.beta(1, 3, leads)
    scores = np.clip(p + rng.normal(0, 0.05, leads), 0, 1) if informative else rng.random(leads)
    outcomes = (rng.random(leads) < p).astype(float)
    outcomes[rng.random(leads) >= known_share] = np.nan
    return ArmLeads(scores, scores >= np.quantile(scores, 0.8), outcomes)


def compare(champion: ArmLeads, challenger: ArmLeads, seed: int = 0):
    rng = np.random.default_rng(seed)
    figures = {CHAMPION: arm_figures(champion, LEVEL, rng), CHALLENGER: arm_figures(challenger, LEVEL, rng)}
    diff = difference(figures, LEVEL)
    return figures, diff, verdict(figures, diff, LEVEL, POWER)


def test_counts_are_of_the_arms_leads_and_known_outcomes():
    arm = ArmLeads(np.array([0.9, 0.8, 0.2, 0.1]), np.array([True, True, False, False]), np.array([1, np.nan, 0, 1.0]))
    figures = arm_figures(arm, LEVEL, np.random.default_rng(0))
    assert (figures.leads, figures.outcomes_known, figures.conversions) == (4, 3, 2)
    assert (figures.hot_known, figures.hot_conversions, figures.hot_conversion_rate.value) == (1, 1, 1.0)
    assert figures.auc.value == 0.5  # of the known: 0.9 converted over 0.2 (won), 0.1 converted under 0.2 (lost)
    assert (figures.top_decile_leads, figures.top_decile_conversions) == (1, 1)


def test_a_planted_difference_is_found_in_favour_of_the_better_model():
    rng = np.random.default_rng(11)
    figures, diff, said = compare(drawn_arm(rng, 3000, informative=False), drawn_arm(rng, 3000, informative=True))
    assert figures[CHALLENGER].auc.low > figures[CHAMPION].auc.high
    assert diff.hot_conversion_rate.low > 0 and diff.auc.low > 0 and diff.precision_top_decile.low > 0
    assert (said.significant, said.better, said.outcomes_needed) == (True, CHALLENGER, None)
    assert said.words.startswith("the challenger converts better among hot leads")


def test_two_copies_of_one_model_show_no_difference_and_say_how_many_outcomes_more():
    rng = np.random.default_rng(5)
    _, diff, said = compare(drawn_arm(rng, 3000, informative=True), drawn_arm(rng, 3000, informative=True))
    assert diff.hot_conversion_rate.low < 0 < diff.hot_conversion_rate.high and diff.auc.low < 0 < diff.auc.high
    assert not said.significant and said.better is None
    assert said.outcomes_needed is not None and "more known outcomes of hot leads per arm" in said.words


def test_without_known_outcomes_there_is_nothing_to_compare():
    rng = np.random.default_rng(1)
    empty = drawn_arm(rng, 50, informative=True, known_share=0.0)
    _, diff, said = compare(empty, drawn_arm(rng, 50, informative=True))
    assert diff.hot_conversion_rate.value is None and diff.auc.value is None
    assert not said.significant and "nothing to compare" in said.words
