"""Per-arm figures of an experiment and the challenger's difference from the champion, from each lead's score,
priority and outcome (None while unknown): what `leadscore ab-report` writes to gold.ab_results and prints."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from leadscore.experiments.statistics import (
    NONE,
    Estimate,
    auc,
    bootstrap_aucs,
    newcombe,
    outcomes_needed,
    percentile_interval,
    top_share_hits,
    wilson,
)

CHAMPION, CHALLENGER = "champion", "challenger"
ARMS = (CHAMPION, CHALLENGER)
HOT = "hot"
# The figure a promotion is decided on: conversions among the leads an arm told agents to call first.
DECIDING = "hot_conversion_rate"


@dataclass(frozen=True)
class ArmLeads:
    """One arm's leads: the score its model gave each, whether that made it hot, and its outcome (NaN: unknown)."""

    scores: np.ndarray
    hot: np.ndarray  # bool
    outcomes: np.ndarray  # float: 1.0, 0.0 or NaN

    @property
    def known(self) -> np.ndarray:
        return ~np.isnan(self.outcomes)


@dataclass(frozen=True)
class ArmFigures:
    leads: int
    outcomes_known: int
    conversions: int
    conversion_rate: Estimate
    hot_known: int
    hot_conversions: int
    hot_conversion_rate: Estimate
    auc: Estimate
    top_decile_leads: int
    top_decile_conversions: int
    precision_top_decile: Estimate
    auc_draws: np.ndarray = field(repr=False)  # the bootstrap's AUCs, which the arms' difference is drawn from


def arm_figures(arm: ArmLeads, level: float, rng: np.random.Generator) -> ArmFigures:
    known = arm.known
    scores, outcomes, hot = arm.scores[known], arm.outcomes[known].astype(int), arm.hot[known]
    conversions, hot_conversions = int(outcomes.sum()), int(outcomes[hot].sum())
    top_conversions, top_leads = top_share_hits(scores, outcomes)
    draws = bootstrap_aucs(scores, outcomes, rng)
    return ArmFigures(
        leads=len(arm.scores),
        outcomes_known=int(known.sum()),
        conversions=conversions,
        conversion_rate=wilson(conversions, len(outcomes), level),
        hot_known=int(hot.sum()),
        hot_conversions=hot_conversions,
        hot_conversion_rate=wilson(hot_conversions, int(hot.sum()), level),
        auc=percentile_interval(auc(scores, outcomes), draws, level),
        top_decile_leads=top_leads,
        top_decile_conversions=top_conversions,
        precision_top_decile=wilson(top_conversions, top_leads, level),
        auc_draws=draws,
    )


@dataclass(frozen=True)
class Difference:
    """The challenger's figure minus the champion's, with its interval."""

    hot_conversion_rate: Estimate
    auc: Estimate
    precision_top_decile: Estimate


def difference(figures: dict[str, ArmFigures], level: float) -> Difference:
    base, other = figures[CHAMPION], figures[CHALLENGER]
    if base.auc.value is None or other.auc.value is None:
        auc_difference = NONE
    else:  # the arms are independent samples: the difference of independent resamples
        auc_difference = percentile_interval(other.auc.value - base.auc.value, other.auc_draws - base.auc_draws, level)
    return Difference(
        hot_conversion_rate=newcombe(
            (base.hot_conversions, base.hot_known), (other.hot_conversions, other.hot_known), level
        ),
        auc=auc_difference,
        precision_top_decile=newcombe(
            (base.top_decile_conversions, base.top_decile_leads),
            (other.top_decile_conversions, other.top_decile_leads),
            level,
        ),
    )


@dataclass(frozen=True)
class Verdict:
    significant: bool
    better: str | None  # the arm whose deciding figure is higher beyond the interval
    outcomes_needed: int | None  # per arm, for the observed difference, when not significant
    words: str


def verdict(figures: dict[str, ArmFigures], diff: Difference, level: float, power: float) -> Verdict:
    estimate = diff.hot_conversion_rate
    base, other = figures[CHAMPION].hot_conversion_rate.value, figures[CHALLENGER].hot_conversion_rate.value
    confidence = f"{level:.0%}"
    if estimate.value is None:
        return Verdict(False, None, None, "no hot lead has a known outcome in one of the arms yet: nothing to compare")
    shown = f"{estimate.value:+.3f} [{estimate.low:+.3f}, {estimate.high:+.3f}]"
    if estimate.excludes_zero:
        better = CHALLENGER if estimate.value > 0 else CHAMPION
        return Verdict(
            True, better, None,
            f"the {better} converts better among hot leads: challenger - champion {shown}, significant at "
            f"{confidence}",
        )  # fmt: skip
    needed = outcomes_needed(base, other, level, power)
    have = min(figures[arm].hot_known for arm in figures)
    if needed is None:
        more = "no difference was observed, so no number of outcomes would show one"
    else:
        more = f"about {max(needed - have, 0):,} more known outcomes of hot leads per arm ({needed:,} in all)"
        more += f" would show a difference this size with {power:.0%} power"
    return Verdict(
        False, None, needed,
        f"no significant difference among hot leads at {confidence}: challenger - champion {shown}; {more}",
    )  # fmt: skip
