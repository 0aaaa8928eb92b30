"""A lead: its score now, its score and priority across lead_scores' versions, and the events that moved it."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from leadscore.console import data, state
from leadscore.errors import LeadscoreError

st.title("Lead")
asked = st.text_input("Prospect ID or lead number", value=st.query_params.get("lead", ""), key="lead_id").strip()
if not asked:
    st.info("Enter a prospect ID or a lead number, or pick a lead in the call queue.")
    st.stop()
if asked != st.query_params.get("lead"):
    st.query_params["lead"] = asked

reader = state.reader()
try:
    now = data.lead_now(reader, asked)
except LeadscoreError as error:
    st.error(str(error))
    st.stop()
if now.empty:
    st.warning(f"No lead {asked} in lead_scores.")
    st.stop()

lead = now.iloc[0]
st.subheader(f"{lead['prospect_id']} · lead {lead['lead_number']}")
cells = st.columns(5)
cells[0].metric("score", f"{lead['score']:.3f}")
cells[1].metric("priority", lead["priority"])
choice = lead["opted_out_call"]
cells[2].metric("calls", "unknown: no calls" if pd.isna(choice) else "opted out" if choice else "may call")
cells[3].metric("model version", lead["model_version"])
cells[4].metric("last event (UTC)", f"{lead['event_ts']:%Y-%m-%d %H:%M:%S}")

history = data.lead_history(reader, asked)
st.markdown("#### Score across table versions")
st.caption(
    "Each version of gold.lead_scores that changed this lead (one commit per stream micro-batch: its MERGE, or a "
    "backlog's append), from the table's change data feed: its score and priority from then on, and the event that "
    "set them."
)
trend = alt.Chart(history).mark_line(point=alt.OverlayMarkDef(size=80), interpolate="step-after")
st.altair_chart(
    trend.encode(
        x=alt.X("version:O", title="lead_scores version"),
        y=alt.Y("score:Q", scale=alt.Scale(domain=[0, 1])),
        tooltip=["version", "committed_at", "score", "priority", "last_action", "total_visits"],
    ).properties(height=220),
    width="stretch",
)
st.dataframe(history, hide_index=True, width="stretch")

st.markdown("#### As of a version (time travel)")
first, last = int(history["version"].min()), int(data.versions(reader, 1)["version"].iloc[0])
if first < last:
    version = st.slider("lead_scores version", min_value=first, max_value=last, value=last, key="as_of")
else:
    version = last
then = data.lead_now(reader, asked, version)
st.dataframe(then[["score", "priority", "last_action", "total_visits", "model_version", "event_ts"]], hide_index=True)

st.markdown("#### Events")
st.caption("The lead's rows in silver.leads, newest first; `moved_score` marks the ones that set its score.")
st.dataframe(data.lead_events(reader, asked, history), hide_index=True, width="stretch")
