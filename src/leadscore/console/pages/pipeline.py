"""Pipeline health: landing -> gold latency and leads per scores micro-batch, row accounting, quarantine reasons."""

from __future__ import annotations

import streamlit as st

from leadscore.console import data, state

reader = state.reader()
st.title("Pipeline health")

st.markdown("#### Rows per table")
rows = data.table_rows(reader)
st.dataframe(rows, hide_index=True)
counted = dict(zip(rows["table"], rows["rows"], strict=True))
parts = [counted[t] for t in ("silver_leads", "quarantine", "duplicates")]
if counted["bronze_leads"] is not None and None not in parts:
    balanced = counted["bronze_leads"] == sum(parts)
    (st.success if balanced else st.error)(
        f"bronze {counted['bronze_leads']:,} {'=' if balanced else '≠'} silver {parts[0]:,} + quarantine "
        f"{parts[1]:,} + duplicates {parts[2]:,}"
    )

st.markdown("#### Scoring micro-batches")
batches = data.scoring_batches(reader)
if batches.empty:
    st.info(
        "No scoring batch recorded yet: each micro-batch of the scores stream (`leadscore stream`) records itself in "
        "its MERGE's commit of gold.lead_scores."
    )
else:
    last = batches.iloc[-1]
    cells = st.columns(4)
    cells[0].metric("batches", f"{len(batches):,}")
    cells[1].metric("leads merged", f"{int(batches['leads_merged'].sum()):,}")
    cells[2].metric("latency, newest event (last batch)", f"{last['latency_newest_s']:.1f} s")
    cells[3].metric("p50 latency, newest event", f"{batches['latency_newest_s'].median():.1f} s")
    st.caption("Landing -> gold latency per batch: from the file landing time of its newest and oldest event.")
    st.line_chart(
        batches.rename(columns={"latency_newest_s": "newest event (s)", "latency_oldest_s": "oldest event (s)"}),
        x="committed_at",
        y=["newest event (s)", "oldest event (s)"],
        height=260,
    )
    st.caption("Leads merged per batch, by priority.")
    st.bar_chart(batches, x="committed_at", y=["hot", "warm", "cold"], height=260)
    st.dataframe(
        batches.sort_values("committed_at", ascending=False).head(50)[
            ["batch_id", "committed_at", "lead_scores_version", "events", "leads_merged", "leads_inserted",
             "leads_updated", "latency_newest_s", "latency_oldest_s", "model_version", "score_p50", "batch_seconds"]
        ],
        hide_index=True,
        width="stretch",
    )  # fmt: skip

st.markdown("#### Quarantined rows by failed expectation")
quarantine = data.quarantine_by_expectation(reader)
if quarantine.empty:
    st.success("Nothing quarantined.")
else:
    st.bar_chart(quarantine, x="expectation", y="rows", horizontal=True, height=40 + 28 * len(quarantine))
    st.dataframe(quarantine, hide_index=True)

st.markdown("#### lead_scores versions")
st.dataframe(data.versions(reader, 20), hide_index=True, width="stretch")
