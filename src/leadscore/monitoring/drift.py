"""Drift statistics: bins fixed on a reference, binned counts of any DataFrame, and the population stability index.

Bins are cut once, on the reference (the champion's training data), and kept with it: every later window is counted
into the same bins, so one run's PSI compares with the next. Nulls are counted apart (the null share is a metric of
its own), never as a bin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from leadscore.schema import BY_NAME

NUMERIC, CATEGORICAL, BOOLEAN = "numeric", "categorical", "boolean"
OTHER = "__other__"  # the bin of categories the reference had too few of, or never had
PSI_FLOOR = 0.0001  # an empty bin's share, so the logarithm stays finite (Evidently does the same)


def column_type(column: str) -> str:
    """numeric, categorical or boolean, from the silver column's kind in schema.py; `score` is numeric."""
    kind = BY_NAME[column].kind if column in BY_NAME else "double"
    return NUMERIC if kind in ("int", "double") else BOOLEAN if kind in ("bool", "label") else CATEGORICAL


@dataclass(frozen=True)
class Bins:
    """How one column is binned: cut points (numeric) or the kept categories (categorical, boolean)."""

    column_name: str
    column_type: str
    edges: tuple[float, ...] = ()  # numeric: bin i holds edges[i-1] < value <= edges[i]; the last is open above
    categories: tuple[str, ...] = ()

    @property
    def labels(self) -> list[str]:
        if self.column_type != NUMERIC:
            return [*self.categories, OTHER] if self.column_type == CATEGORICAL else list(self.categories)
        bounds = [-math.inf, *self.edges, math.inf]
        return [f"({_number(low)}, {_number(high)}]" for low, high in zip(bounds, bounds[1:], strict=False)]

    def label(self, value: Column) -> Column:
        """The bin label of each value; null stays null."""
        if self.column_type == NUMERIC:
            number = value.cast("double")
            labels = self.labels
            expression = F.when(number.isNull(), F.lit(None).cast("string"))
            for edge, label in zip(self.edges, labels, strict=False):
                expression = expression.when(number <= F.lit(edge), label)
            return expression.otherwise(labels[-1])
        text = value.cast("string")
        if self.column_type == BOOLEAN:
            return text
        return (
            F.when(text.isNull(), F.lit(None).cast("string")).when(text.isin(*self.categories), text).otherwise(OTHER)
        )


def _number(value: float) -> str:
    return "inf" if value == math.inf else "-inf" if value == -math.inf else f"{value:g}"


def fit_bins(reference: DataFrame, columns: Sequence[str], bins: int, max_categories: int) -> dict[str, Bins]:
    """Bins cut on the reference: deciles (or `bins` quantiles) of a numeric column, with repeated cut points
    merged; a categorical column's `max_categories` most frequent values; a boolean's two values."""
    numeric = [c for c in columns if column_type(c) == NUMERIC]
    fitted: dict[str, Bins] = {}
    if numeric:
        probabilities = [i / bins for i in range(1, bins)]
        doubles = reference.select(*[F.col(c).cast("double").alias(c) for c in numeric])
        quantiles = doubles.approxQuantile(numeric, probabilities, 0.001)
        for column, cuts in zip(numeric, quantiles, strict=True):
            fitted[column] = Bins(column, NUMERIC, edges=tuple(sorted(set(cuts))))
    for column in columns:
        kind = column_type(column)
        if kind == BOOLEAN:
            fitted[column] = Bins(column, BOOLEAN, categories=("false", "true"))
        elif kind == CATEGORICAL:
            top = (
                reference.where(F.col(column).isNotNull())
                .groupBy(column)
                .count()
                .orderBy(F.desc("count"), column)
                .limit(max_categories)
                .collect()
            )
            fitted[column] = Bins(column, CATEGORICAL, categories=tuple(row[column] for row in top))
    return {column: fitted[column] for column in columns}


def binned_counts(df: DataFrame, bins: Mapping[str, Bins]) -> DataFrame:
    """Rows per (column_name, bin) in one pass over `df`; `bin` is null for the column's null values."""
    labelled = [
        F.struct(F.lit(column).alias("column_name"), spec.label(F.col(column)).alias("bin"))
        for column, spec in bins.items()
    ]
    return (
        df.select(F.explode(F.array(*labelled)).alias("_binned")).groupBy("_binned.column_name", "_binned.bin").count()
    )


@dataclass(frozen=True)
class Distribution:
    """A column's rows per bin (in the order of its labels) and its null rows."""

    counts: tuple[int, ...]
    nulls: int

    @property
    def rows(self) -> int:
        return sum(self.counts) + self.nulls

    @property
    def shares(self) -> list[float]:
        total = sum(self.counts)
        return [count / total if total else 0.0 for count in self.counts]

    @property
    def null_share(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0


def distributions(counts: DataFrame, bins: Mapping[str, Bins]) -> dict[str, Distribution]:
    """binned_counts collected into one Distribution per column, every label present (0 when no row fell in it)."""
    found: dict[str, dict[str | None, int]] = {column: {} for column in bins}
    for row in counts.collect():
        found[row["column_name"]][row["bin"]] = row["count"]
    return {
        column: Distribution(tuple(found[column].get(label, 0) for label in spec.labels), found[column].get(None, 0))
        for column, spec in bins.items()
    }


def psi(reference: Sequence[float], current: Sequence[float], floor: float = PSI_FLOOR) -> float:
    """Population stability index of two distributions over the same bins (shares or counts):
    sum of (ref% - cur%) * ln(ref% / cur%), each share floored so an empty bin does not make it infinite."""
    ref_total, cur_total = sum(reference), sum(current)
    if not ref_total or not cur_total:
        raise ValueError("PSI needs rows on both sides")
    value = 0.0
    for ref, cur in zip(reference, current, strict=True):
        ref_share, cur_share = max(ref / ref_total, floor), max(cur / cur_total, floor)
        value += (ref_share - cur_share) * math.log(ref_share / cur_share)
    return value
