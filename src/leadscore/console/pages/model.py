"""The model: champion and challenger side by side, their test metrics, curves and model cards."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from leadscore.console import models, state

METRICS = (
    "auc_roc",
    "pr_auc",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "log_loss",
    "brier",
    "calibration_error",
    "rows",
)

st.title("Model")
versions = models.champion_and_challenger(state.config())
if not versions:
    st.info("No model yet: `leadscore train` registers the first version, which becomes the champion.")
    st.stop()

st.caption(
    f"Registered model `{versions[0].name}`. The champion scores the stream; the challenger is the newest version that "
    "has not beaten it on the test split. Test metrics from each version's training run."
)
st.dataframe(
    pd.DataFrame(
        [
            {"alias": v.alias, "version": v.version, "chosen": v.params.get("chosen"),
             "feature set": v.params.get("feature_set"), "gold_training_version": v.params.get("gold_training_version"),
             **{m: v.metrics.get(f"test_{m}") for m in METRICS}}
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
