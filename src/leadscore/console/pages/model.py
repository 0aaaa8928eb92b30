"""The model: champion and challenger side by side, their test metrics, curves and model cards."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from leadscore.console import models, state

METRICS = ("auc_roc", "pr_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier", "rows", "positives")

st.title("Model")
versions = models.champion_and_challenger(state.config())
if not versions:
    st.info("No model yet: `leadscore train` publishes the first version, which becomes the champion.")
    st.stop()

st.caption("The champion scores the stream; a challenger is a newer version not serving yet.")
st.dataframe(
    pd.DataFrame(
        [
            {"alias": v.alias, "version": v.version, "chosen": v.metrics.get("chosen"),
             "feature set": v.metrics.get("feature_set"), "trained": v.metrics.get("created_at"),
             **{m: v.metrics["test"].get(m) for m in METRICS}}
            for v in versions
        ]
    ),
    hide_index=True,
    width="stretch",
)  # fmt: skip

for column, version in zip(st.columns(len(versions)), versions, strict=True):
    with column:
        st.subheader(f"{version.alias}: version {version.version}")
        for title, png in version.curves.items():
            st.image(png, caption=title)
        with st.expander("Model card", expanded=version.alias == "champion"):
            st.markdown(version.card or "_no model card_")
