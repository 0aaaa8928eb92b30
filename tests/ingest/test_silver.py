"""Silver typing, expectations and de-duplication as pure transforms."""

from __future__ import annotations

from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import functions as F

from leadscore.ingest import silver
from leadscore.schema import COLUMNS, RAW_NAMES

BRONZE_DDL = ", ".join(
    ["_source_file string", "_file_modification_time timestamp", "_line_number long"]
    + [f"`{name}` string" for name in RAW_NAMES]
    + ["_row_hash string", "_rescued_data string", "_parse_error string", "_repair string", "_ingested_at timestamp"]
    + ["_ingest_query_id string", "_ingest_batch_id long"]
)
GOOD = {
    "Prospect ID": "7927b2df-8bba-4d29-b9a2-b6e0beafe620", "Lead Number": "660737", "Lead Origin": "API",
    "Lead Source": "Olark Chat", "Do Not Email": "No", "Do Not Call": "Yes", "Converted": "1", "TotalVisits": "5",
    "Total Time Spent on Website": "674", "Page Views Per Visit": "2.5", "Specialization": "Select", "Country": "",
}  # fmt: skip
LANDED = datetime(2026, 11, 1, 12, 0)


def bronze_row(line: int = 2, file: str = "a.csv", row_hash: str | None = None, rescued: str | None = None, **values):
    raw = {**GOOD, **values}
    cells = [None if rescued else raw.get(c.source, "No" if c.kind == "bool" else "") for c in COLUMNS]
    return (file, LANDED, line, *cells, row_hash or f"h{line}{file}", rescued, None, None, LANDED, "q", 0)


def bronze_frame(spark, *rows):
    return spark.createDataFrame(list(rows), BRONZE_DDL)


def test_typing_renames_casts_and_cleans(spark):
    typed = silver.with_typed_columns(bronze_frame(spark, bronze_row()))
    row = typed.select(
        "prospect_id", "lead_number", "opted_out_email", "opted_out_call", "contacted_agent", "total_visits",
        "avg_listings_viewed_per_session", "home_type_interest", "country", "event_ts", "event_seq",
    ).first()  # fmt: skip
    assert row.asDict() == {
        "prospect_id": GOOD["Prospect ID"], "lead_number": 660737, "opted_out_email": False, "opted_out_call": True,
        "contacted_agent": True, "total_visits": 5, "avg_listings_viewed_per_session": 2.5,
        "home_type_interest": None, "country": None, "event_ts": LANDED, "event_seq": 2,
    }  # fmt: skip


def classified(spark, *rows, seen=()):
    """Rows of one batch, judged and classified; `seen` are contents the stream delivered before the batch."""
    judged = silver.judge(silver.with_typed_columns(bronze_frame(spark, *rows)))
    new = judged.select("_row_hash").distinct().where(~F.col("_row_hash").isin(list(seen)))
    return silver.classify(silver.mark_first_deliveries(judged, silver.delivery_exceptions(judged, new)))


def test_expectations_quarantine_with_every_failed_name(spark):
    out = classified(
        spark,
        bronze_row(2),
        bronze_row(3, TotalVisits="seven"),
        bronze_row(4, Converted="2", **{"Do Not Email": "Maybe"}),
        bronze_row(5, rescued="a,b,c"),
        bronze_row(6, TotalVisits="-1"),
    ).select("_line_number", "_outcome", "_failed_expectations")
    expected = spark.createDataFrame(
        [
            (2, "silver", []),
            (3, "quarantine", ["total_visits_is_number"]),
            (4, "quarantine", ["opted_out_email_is_yes_or_no", "contacted_agent_is_0_or_1"]),
            (5, "quarantine", ["row_parsed", "prospect_id_present", "lead_number_present"]),
            (6, "quarantine", ["total_visits_not_negative"]),
        ],
        out.schema,
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_warnings_keep_the_row(spark):
    row = classified(spark, bronze_row(2, TotalVisits="5000")).first()
    assert row["_outcome"] == "silver"
    assert row["_warnings"] == ["total_visits_plausible"]


def test_the_earliest_delivery_of_a_content_is_kept_and_the_others_are_duplicates(spark):
    first, again = bronze_row(2, "a.csv", row_hash="same"), bronze_row(2, "b.csv", row_hash="same")
    within = classified(spark, again, first).select("_source_file", "_outcome").orderBy("_source_file").collect()
    assert [tuple(r) for r in within] == [("a.csv", "silver"), ("b.csv", "duplicate")]

    redelivered = classified(spark, again, bronze_row(3, "b.csv"), seen=["same"]).orderBy("_line_number").collect()
    assert [r["_outcome"] for r in redelivered] == ["duplicate", "silver"]


def test_a_batch_of_contents_never_seen_needs_no_exceptions(spark):
    judged = silver.judge(silver.with_typed_columns(bronze_frame(spark, bronze_row(2), bronze_row(3, TotalVisits="x"))))
    joined = silver.mark_first_deliveries(judged, silver.delivery_exceptions(judged, judged.select("_row_hash")))
    assert_df_equality(silver.mark_first_deliveries(judged, None), joined, ignore_row_order=True, ignore_nullable=True)


def test_a_failing_first_delivery_is_quarantined_and_its_redelivery_is_a_duplicate(spark):
    bad = [
        bronze_row(2, "a.csv", row_hash="bad", TotalVisits="x"),
        bronze_row(3, "a.csv", row_hash="bad", TotalVisits="x"),
    ]
    assert [r["_outcome"] for r in classified(spark, *bad).orderBy("_line_number").collect()] == [
        "quarantine",
        "duplicate",
    ]


def test_outputs_partition_the_batch(spark):
    out = classified(spark, bronze_row(2), bronze_row(3, TotalVisits="x"), bronze_row(4, row_hash="h2a.csv"))
    counts = [silver.silver_rows(out).count(), silver.quarantine_rows(out).count(), silver.duplicate_rows(out).count()]
    assert counts == [1, 1, 1]
    quarantined = silver.quarantine_rows(out).first()
    assert quarantined["_raw"]["TotalVisits"] == "x"


def test_classification_drops_the_answered_values_and_quarantine_keeps_the_raw_ones(spark):
    out = classified(spark, bronze_row(2), bronze_row(3, TotalVisits="x"))
    assert not [c for c in out.columns if c.startswith("_answered__")]
    quarantined = silver.quarantine_rows(out).collect()
    assert [(r["_line_number"], r["_raw"]["TotalVisits"]) for r in quarantined] == [(3, "x")]
    assert silver.bronze_rows(out).columns[3:40] == list(RAW_NAMES)
