"""One monitor run: recent silver leads against the champion's training data, written to gold.drift.

Per feature of the champion: PSI over bins fixed on the reference, and the change of the null share; for the
model: PSI of its scores on the window against its scores on the reference; for the pipeline: the share of the
window's rows that quarantine took, and whether enough leads arrived to judge at all. A row whose `drift_score`
passes its `stattest_threshold` (from conf `monitor.thresholds`) has `drift_detected`: a breach.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from leadscore.config import Config
from leadscore.ingest.silver import latest_per_lead
from leadscore.monitoring import drift
from leadscore.monitoring.reference import Champion
from leadscore.training.evaluation import with_score

log = logging.getLogger("leadscore")

SCORE = "score"  # the prediction column, binned like a feature
TABLE = ":table"  # Lakehouse Monitoring's column_name for metrics of the whole window

WINDOW = T.StructType([T.StructField("start", T.TimestampType()), T.StructField("end", T.TimestampType())])
DRIFT_SCHEMA = T.StructType(
    [
        T.StructField("window", WINDOW),
        T.StructField("granularity", T.StringType()),
        T.StructField("model_id", T.StringType()),
        T.StructField("drift_type", T.StringType()),
        T.StructField("column_name", T.StringType()),
        T.StructField("column_type", T.StringType()),
        T.StructField("stattest_name", T.StringType()),
        T.StructField("stattest_threshold", T.DoubleType()),
        T.StructField("drift_score", T.DoubleType()),
        T.StructField("drift_detected", T.BooleanType()),
        T.StructField("reference_value", T.DoubleType()),
        T.StructField("current_value", T.DoubleType()),
        T.StructField("reference_rows", T.LongType()),
        T.StructField("current_rows", T.LongType()),
        T.StructField("bin_labels", T.ArrayType(T.StringType())),
        T.StructField("reference_distribution", T.ArrayType(T.DoubleType())),
        T.StructField("current_distribution", T.ArrayType(T.DoubleType())),
        T.StructField("run_id", T.StringType()),
        T.StructField("computed_at", T.TimestampType()),
    ]
)  # fmt: skip
BASELINE_SCHEMA = T.StructType(
    [
        T.StructField("model_id", T.StringType()),
        T.StructField("column_name", T.StringType()),
        T.StructField("column_type", T.StringType()),
        T.StructField("bin_edges", T.ArrayType(T.DoubleType())),
        T.StructField("bin_categories", T.ArrayType(T.StringType())),
        T.StructField("bin_labels", T.ArrayType(T.StringType())),
        T.StructField("reference_counts", T.ArrayType(T.LongType())),
        T.StructField("reference_nulls", T.LongType()),
        T.StructField("reference_table", T.StringType()),
        T.StructField("reference_version", T.LongType()),
        T.StructField("created_at", T.TimestampType()),
    ]
)


@dataclass(frozen=True)
class Baseline:
    """Each monitored column's bins and its distribution on the reference, for one model version."""

    bins: dict[str, drift.Bins]
    reference: dict[str, drift.Distribution]


def fit_baseline(champion: Champion, bins: int, max_categories: int) -> Baseline:
    """Bins and reference distributions of the champion's features and of its scores on its own training rows."""
    scored = with_score(champion.model, champion.training).select(*champion.features, SCORE)
    columns = [*champion.features, SCORE]
    fitted = drift.fit_bins(scored, columns, bins, max_categories)
    return Baseline(fitted, drift.distributions(drift.binned_counts(scored, fitted), fitted))


def _baseline_rows(spark: SparkSession, champion: Champion, baseline: Baseline) -> DataFrame:
    now = datetime.now(UTC)
    rows = [
        (
            champion.model_id, column, spec.column_type, list(spec.edges) or None, list(spec.categories) or None,
            spec.labels, list(baseline.reference[column].counts), baseline.reference[column].nulls,
            champion.training_table, champion.training_version, now,
        )
        for column, spec in baseline.bins.items()
    ]  # fmt: skip
    return spark.createDataFrame(rows, BASELINE_SCHEMA)


def baseline_for(spark: SparkSession, config: Config, champion: Champion) -> Baseline:
    """The baseline recorded for this model version in gold.drift_baseline; fitted and recorded on first use, so
    every later run counts into the very same bins."""
    table = config.table("drift_baseline")
    table.create_if_missing(spark, BASELINE_SCHEMA)
    recorded = table.read(spark).where(F.col("model_id") == champion.model_id).collect()
    if recorded:
        latest = max(row["created_at"] for row in recorded)
        rows = [row for row in recorded if row["created_at"] == latest]
        return Baseline(
            bins={
                r["column_name"]: drift.Bins(
                    r["column_name"], r["column_type"], tuple(r["bin_edges"] or ()), tuple(r["bin_categories"] or ())
                )
                for r in rows
            },
            reference={
                r["column_name"]: drift.Distribution(tuple(r["reference_counts"]), r["reference_nulls"]) for r in rows
            },
        )
    settings = config.monitor
    baseline = fit_baseline(champion, settings.bins, settings.max_categories)
    table.save(_baseline_rows(spark, champion, baseline).write.mode("append"))
    log.info("monitor: recorded the baseline of %s (%d columns)", champion.model_id, len(baseline.bins))
    return baseline


def _in_window(df: DataFrame, start: datetime, end: datetime) -> DataFrame:
    return df.where((F.col("event_ts") >= F.lit(start)) & (F.col("event_ts") < F.lit(end)))


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @classmethod
    def ending(cls, end: datetime | None, hours: float) -> Window:
        end = end or datetime.now(UTC)
        return cls(end - timedelta(hours=hours), end)


def drift_rows(
    config: Config,
    baseline: Baseline,
    current: dict[str, drift.Distribution],
    leads: int,
    quarantine_rate: float,
) -> list[dict[str, Any]]:
    """The run's rows before window and run id: PSI and null share per feature, score PSI, quarantine rate."""
    limits = config.monitor.thresholds
    rows = [_row(TABLE, TABLE, "row_count", config.monitor.min_leads, float(leads), leads < config.monitor.min_leads)]
    rows[0]["current_rows"] = leads
    if leads < config.monitor.min_leads:
        return rows  # too few leads to say anything of their distributions
    rows.append(
        _row(TABLE, TABLE, "quarantine_rate", limits["quarantine_rate"], quarantine_rate,
             quarantine_rate > limits["quarantine_rate"], current_value=quarantine_rate)
    )  # fmt: skip
    for column, spec in baseline.bins.items():
        reference, now = baseline.reference[column], current[column]
        threshold = limits["score_psi"] if column == SCORE else limits["psi"]
        value = drift.psi(reference.counts, now.counts) if sum(now.counts) else None
        psi_row = _row(column, spec.column_type, "psi", threshold, value, value is not None and value >= threshold)
        psi_row |= {
            "reference_rows": reference.rows, "current_rows": now.rows, "bin_labels": spec.labels,
            "reference_distribution": reference.shares, "current_distribution": now.shares,
        }  # fmt: skip
        rows.append(psi_row)
        if column != SCORE:
            change = abs(now.null_share - reference.null_share)
            rows.append(
                _row(column, spec.column_type, "null_share_change", limits["null_share_change"], change,
                     change > limits["null_share_change"], reference.null_share, now.null_share)
                | {"reference_rows": reference.rows, "current_rows": now.rows}
            )  # fmt: skip
    return rows


def _row(
    column: str,
    kind: str,
    test: str,
    threshold: float,
    score: float | None,
    detected: bool,
    reference_value: float | None = None,
    current_value: float | None = None,
) -> dict[str, Any]:
    return {
        "column_name": column, "column_type": kind, "stattest_name": test, "stattest_threshold": float(threshold),
        "drift_score": score, "drift_detected": detected, "reference_value": reference_value,
        "current_value": current_value, "reference_rows": None, "current_rows": None, "bin_labels": None,
        "reference_distribution": None, "current_distribution": None,
    }  # fmt: skip


def run(spark: SparkSession, config: Config, champion: Champion, window: Window) -> dict[str, Any]:
    """Computes and appends one run's rows to gold.drift (one commit); returns the run's summary."""
    baseline = baseline_for(spark, config, champion)
    silver = _in_window(config.table("silver_leads").read(spark), window.start, window.end)
    quarantine = config.table("quarantine")  # absent when silver was written by other means than ingest
    quarantined = 0
    if quarantine.exists(spark):
        quarantined = _in_window(quarantine.read(spark), window.start, window.end).count()
    events = silver.count()
    leads = latest_per_lead(silver).select(*champion.features, "prospect_id")
    lead_count = leads.count()
    current: dict[str, drift.Distribution] = {}
    if lead_count >= config.monitor.min_leads:
        scored = with_score(champion.model, leads).select(*champion.features, SCORE)
        current = drift.distributions(drift.binned_counts(scored, baseline.bins), baseline.bins)
    rate = quarantined / (events + quarantined) if events + quarantined else 0.0
    rows = drift_rows(config, baseline, current, lead_count, rate)

    run_id, computed_at = str(uuid.uuid4()), datetime.now(UTC)
    hours = (window.end - window.start).total_seconds() / 3600
    common = {
        "window": {"start": window.start, "end": window.end}, "granularity": f"{hours:g} hours",
        "model_id": champion.model_id, "drift_type": "BASELINE", "run_id": run_id, "computed_at": computed_at,
    }  # fmt: skip
    table = config.table("drift")
    table.create_if_missing(spark, DRIFT_SCHEMA)
    table.save(spark.createDataFrame([{**row, **common} for row in rows], DRIFT_SCHEMA).write.mode("append"))

    features = [r for r in rows if r["stattest_name"] == "psi" and r["column_name"] != SCORE]
    drifted = [r["column_name"] for r in features if r["drift_detected"]]
    score_psi = next((r["drift_score"] for r in rows if r["column_name"] == SCORE), None)
    return {
        "run_id": run_id,
        "model_id": champion.model_id,
        "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
        "leads": lead_count,
        "events": events,
        "quarantined": quarantined,
        "quarantine_rate": round(rate, 6),
        "score_psi": score_psi,
        "number_of_drifted_columns": len(drifted),
        "share_of_drifted_columns": round(len(drifted) / len(features), 6) if features else None,
        "drifted_columns": drifted,
        "breaches": [
            {k: r[k] for k in ("column_name", "stattest_name", "drift_score", "stattest_threshold")}
            for r in rows
            if r["drift_detected"]
        ],
        "table": table.sql_name,
        "rows_written": len(rows),
    }
