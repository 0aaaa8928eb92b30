"""The figures of an A/B test on leads and their outcomes, each with its interval: pure numpy, no Spark.

Proportions (conversion rates, precision at the top decile) get Wilson score intervals and their differences
Newcombe's hybrid score interval; AUC, which has no closed form worth trusting on a few hundred outcomes, gets a
percentile bootstrap, drawn per arm with one seeded generator so a report is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

TOP_SHARE = 0.10  # precision is read at the top decile of each arm's scores
BOOTSTRAP_DRAWS = 1000


@dataclass(frozen=True)
class Estimate:
    value: float | None
    low: float | None
    high: float | None

    @property
    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


NONE = Estimate(None, None, None)


def z_of(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2)


def wilson(successes: int, trials: int, level: float) -> Estimate:
    """Wilson's score interval: sound at small counts and at rates near 0 or 1, where the normal one is not."""
    if trials == 0:
        return NONE
    z, p = z_of(level), successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half))


def newcombe(base: tuple[int, int], other: tuple[int, int], level: float) -> Estimate:
    """other's rate minus base's, with Newcombe's hybrid score interval (his method 10) from the two Wilson ones."""
    (k1, n1), (k2, n2) = base, other
    if n1 == 0 or n2 == 0:
        return NONE
    a, b = wilson(k1, n1, level), wilson(k2, n2, level)
    p1, p2 = a.value, b.value
    difference = p2 - p1
    low = difference - math.sqrt((p2 - b.low) ** 2 + (a.high - p1) ** 2)
    high = difference + math.sqrt((b.high - p2) ** 2 + (p1 - a.low) ** 2)
    return Estimate(difference, low, high)


def auc(scores: np.ndarray, outcomes: np.ndarray) -> float | None:
    """The probability that a converted lead outscores one that did not (ties count a half): Mann-Whitney's U."""
    positives = int(outcomes.sum())
    negatives = len(outcomes) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = _average_ranks(scores)
    return (ranks[outcomes == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = ((starts + 1 + ends) / 2)[group]
    return ranks


def top_share_hits(scores: np.ndarray, outcomes: np.ndarray, share: float = TOP_SHARE) -> tuple[int, int]:
    """Conversions among the top `share` of leads by score (at least one lead), and how many leads that is."""
    if len(scores) == 0:
        return 0, 0
    count = max(1, math.ceil(share * len(scores)))
    top = np.argsort(-scores, kind="mergesort")[:count]
    return int(outcomes[top].sum()), count


def bootstrap_aucs(scores: np.ndarray, outcomes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """AUC of each resample, stratified by outcome so that every resample has both classes."""
    positives, negatives = scores[outcomes == 1], scores[outcomes == 0]
    if len(positives) == 0 or len(negatives) == 0:
        return np.array([])
    draws = np.empty(BOOTSTRAP_DRAWS)
    labels = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
    for i in range(BOOTSTRAP_DRAWS):
        resampled = np.r_[rng.choice(positives, len(positives)), rng.choice(negatives, len(negatives))]
        draws[i] = auc(resampled, labels)
    return draws


def percentile_interval(value: float | None, draws: np.ndarray, level: float) -> Estimate:
    if value is None or len(draws) == 0:
        return NONE
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Estimate(value, float(low), float(high))


def outcomes_needed(base_rate: float | None, other_rate: float | None, level: float, power: float) -> int | None:
    """Outcomes per arm a two-sided test at `level` needs to detect the observed difference with `power`
    (the normal approximation for two proportions); None when no difference was observed."""
    if base_rate is None or other_rate is None or base_rate == other_rate:
        return None
    z_alpha, z_beta = z_of(level), NormalDist().inv_cdf(power)
    mean = (base_rate + other_rate) / 2
    spread = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_beta * math.sqrt(
        base_rate * (1 - base_rate) + other_rate * (1 - other_rate)
    )
    return math.ceil((spread / (other_rate - base_rate)) ** 2)
