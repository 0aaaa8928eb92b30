"""Call queue: the hottest leads first, never one who opted out of calls; it re-reads lead_scores on its own."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from leadscore.console import data, state

WIDTHS = (1.1, 0.7, 1.7, 1.4, 1.9, 0.6, 0.8, 1.6, 3.0)
HEADER = ("lead", "score", "channel", "source", "last action", "visits", "minutes", "last event (UTC)", "prospect ID")

settings = state.config()
st.title("Call queue")
st.caption(
    f"Hot leads (score ≥ {settings.model.priority['hot']:g}), highest score first. A lead who opted out of calls, or "
    f"whose choice is unknown, is never listed. Refreshes every {settings.console.refresh_seconds:g} s."
)


@st.fragment(run_every=settings.console.refresh_seconds)
def call_queue() -> None:
    leads = data.call_queue(state.reader(), settings.console.queue_size)
    read_at = datetime.now(UTC).strftime("%H:%M:%S")
    if leads.empty:
        st.info(f"No hot lead to call (read {read_at} UTC). `leadscore stream` scores new leads into lead_scores.")
        return
    st.caption(f"{len(leads)} leads · read {read_at} UTC · select a lead to see its history")
    for column, title in zip(st.columns(WIDTHS), HEADER, strict=True):
        column.markdown(f"**{title}**")
    for lead in leads.itertuples(index=False):
        cells = st.columns(WIDTHS)
        cells[0].page_link(state.page("lead"), label=str(lead.lead_number), query_params={"lead": lead.prospect_id})
        values = (
            f"{lead.score:.3f}", lead.lead_capture_channel, lead.referral_source, lead.last_action, lead.total_visits,
            lead.total_browsing_time, f"{lead.event_ts:%Y-%m-%d %H:%M:%S}", lead.prospect_id,
        )  # fmt: skip
        for cell, value in zip(cells[1:], values, strict=True):
            cell.write(_shown(value))


def _shown(value) -> str:
    """Empty for a missing value; whole numbers without the .0 pandas gives a column that has nulls."""
    if value is None or value != value:
        return ""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


call_queue()
