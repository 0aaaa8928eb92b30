"""The model a scoring job uses: the version an alias names, followed between micro-batches without a restart.

`refresh()` asks the registry which version holds the alias (one look-up, rate-limited by
`stream.champion_check_seconds`) and loads that version by number only when it changed, so a stream swaps to a
newly promoted champion between two micro-batches and every score carries the version that produced it.
"""

from __future__ import annotations

import logging
import time

from pyspark.ml import PipelineModel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.lifecycle import tracking
from leadscore.lifecycle.registry import CHALLENGER, CHAMPION, load, model_name, version_by_alias
from leadscore.scoring.live_view import SHADOW_COLUMNS
from leadscore.scoring.model import SCORE_COLUMNS, score
from leadscore.training.evaluation import with_score

log = logging.getLogger("leadscore")


class AliasedModel:
    """The version `alias` names of the feature set's registered model (conf's `model.feature_set` by default).

    `required`: no version holding the alias is an error (the champion a stream scores with); otherwise the model
    is simply absent (a challenger to shadow).
    """

    def __init__(self, config: Config, alias: str = CHAMPION, *, feature_set: str | None = None, required: bool = True):
        self.config = config
        self.alias = alias
        self.required = required
        self.name = model_name(config, feature_set)
        self.version: str | None = None
        self.model: PipelineModel | None = None
        self.threshold: float | None = None
        self._client = None
        self._checked_at: float | None = None

    def refresh(self) -> bool:
        """Follows the alias; True when the model changed (loaded, swapped or gone)."""
        now = time.monotonic()
        if self._checked_at is not None and now - self._checked_at < self.config.stream.champion_check_seconds:
            return False
        self._checked_at = now
        if self._client is None:
            self._client = tracking.client(self.config)
        try:
            found = version_by_alias(self._client, self.name, self.alias)
        except LeadscoreError:
            if self.required:
                raise
            found = None  # the model is not registered yet: no version holds the alias
        if found is None:
            if self.required:
                raise LeadscoreError(
                    f"model {self.name!r} has no version with the alias {self.alias!r}: "
                    "run `leadscore promote --version N` (`leadscore models` lists the versions)"
                )
            changed, self.version, self.model, self.threshold = self.version is not None, None, None, None
            return changed
        if str(found.version) == self.version:
            return False
        loaded = load(self._client, self.config, found)
        log.info("scores: %s@%s is version %s (was %s)", self.name, self.alias, loaded.version, self.version or "none")
        self.model, self.version, self.threshold = loaded.model, loaded.version, loaded.threshold
        return True

    def shadow(self, df: DataFrame) -> DataFrame:
        """`df` plus this model's score and version as lead_scores' shadow columns (nulls when there is no model)."""
        if self.model is None:
            return df.select("*", *_null_shadow())
        return with_score(self.model, df).select(
            *[F.col(f"`{c}`") for c in df.columns],
            F.col("score").alias("challenger_score"),
            F.lit(self.version).alias("challenger_version"),
        )


def _null_shadow() -> list[Column]:
    return [F.lit(None).cast(kind).alias(name) for name, kind in SHADOW_COLUMNS.items()]


def shadow_columns(scored: DataFrame) -> list[Column]:
    """The shadow columns of scored rows: the challenger's when it scored them, else typed nulls."""
    if set(SHADOW_COLUMNS) <= set(scored.columns):
        return [F.col(name) for name in SHADOW_COLUMNS]
    return _null_shadow()


# What scoring adds to a silver row: the champion's score, prediction and priority, and the challenger's shadow.
SCORED_COLUMNS = (*SCORE_COLUMNS, *SHADOW_COLUMNS)


class Scorer:
    """What a query scores with: the champion and, when conf `stream.shadow_challenger` says so, the challenger,
    both followed between micro-batches. `required`: no champion is an error; otherwise there is nothing to score
    with until one is promoted (`ready`)."""

    def __init__(self, config: Config, *, required: bool = True):
        self.config = config
        self.champion = AliasedModel(config, CHAMPION, required=required)
        self.challenger = AliasedModel(config, CHALLENGER, required=False) if config.stream.shadow_challenger else None

    def refresh(self) -> None:
        self.champion.refresh()
        if self.challenger is not None:
            self.challenger.refresh()

    @property
    def ready(self) -> bool:
        return self.champion.model is not None

    @property
    def versions(self) -> tuple[str | None, str | None]:
        """The champion's and the challenger's versions, as loaded now."""
        return self.champion.version, self.challenger.version if self.challenger is not None else None

    def scored(self, events: DataFrame) -> DataFrame:
        """`events` (silver rows) plus SCORED_COLUMNS, by the models loaded now."""
        if self.challenger is not None:
            events = self.challenger.shadow(events)
        return score(self.champion.model, events, self.champion.threshold, self.config.model.priority)
