"""Drift: the newest monitor run's PSI per feature against the champion's training data, breaches marked."""

from __future__ import annotations

import altair as alt
import streamlit as st

from leadscore.console import data, state

reader = state.reader()
st.title("Drift")
latest = data.latest_drift(reader)
if latest.empty:
    st.info("No monitor run yet: `leadscore monitor` (the scheduled `monitor` job) writes gold.drift.")
    st.stop()

run = latest.iloc[0]
breaches = latest[latest["drift_detected"]]
st.caption(
    f"Run {run['run_id']} at {run['computed_at']:%Y-%m-%d %H:%M} UTC · model {run['model_id']} · window "
    f"{run['window']['start']:%Y-%m-%d %H:%M} to {run['window']['end']:%Y-%m-%d %H:%M} UTC ({run['granularity']}) · "
    f"against its training data ({run['drift_type']})"
)
if breaches.empty:
    st.success("No breach: every metric is within its threshold.")
else:
    st.error(
        f"{len(breaches)} breach(es): "
        + ", ".join(
            f"{b.column_name} {b.stattest_name} {b.drift_score:.3f} ≥ {b.stattest_threshold:g}"
            for b in breaches.itertuples()
        )
    )

psi = latest[latest["stattest_name"] == "psi"].copy()
if not psi.empty:
    psi["status"] = psi["drift_detected"].map({True: "breach", False: "ok"})
    st.markdown("#### Population stability index per feature")
    bars = (
        alt.Chart(psi)
        .mark_bar()
        .encode(
            x=alt.X("drift_score:Q", title="PSI"),
            y=alt.Y("column_name:N", sort="-x", title=None),
            color=alt.Color("status:N", scale=alt.Scale(domain=["ok", "breach"], range=["#4c78a8", "#e45756"])),
            tooltip=["column_name", "column_type", "drift_score", "stattest_threshold"],
        )
    )
    rule = alt.Chart(psi.head(1)).mark_rule(strokeDash=[4, 4]).encode(x="stattest_threshold:Q")
    st.altair_chart(bars + rule, width="stretch")

st.markdown("#### Every metric of the run")
table = latest[
    ["column_name", "column_type", "stattest_name", "drift_score", "stattest_threshold", "drift_detected",
     "reference_value", "current_value", "current_rows"]
].copy()  # fmt: skip
table.insert(0, "breach", table["drift_detected"].map({True: "⚠ breach", False: ""}))
st.dataframe(table.drop(columns="drift_detected"), hide_index=True, width="stretch")

chosen = st.selectbox("Distribution of", psi["column_name"].tolist()) if not psi.empty else None
if chosen:
    row = psi[psi["column_name"] == chosen].iloc[0]
    shares = {"bin": list(row["bin_labels"]), "reference": list(row["reference_distribution"]),
              "current": list(row["current_distribution"])}  # fmt: skip
    st.bar_chart(shares, x="bin", y=["reference", "current"], stack=False, height=260)

runs = data.drift_runs(reader)
if len(runs) > 1:
    st.markdown("#### Breaches per run")
    st.bar_chart(runs, x="computed_at", y="breaches", height=200)
