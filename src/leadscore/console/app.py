"""The console's entry script: `leadscore console` runs it with Streamlit (locally and as the Databricks App)."""

from __future__ import annotations

import streamlit as st

from leadscore.console.state import page

st.set_page_config(page_title="leadscore console", page_icon=":telephone_receiver:", layout="wide")
navigation = st.navigation(
    {
        "Agents": [
            st.Page(page("queue"), title="Call queue", icon=":material/call:", url_path="queue", default=True),
            st.Page(page("lead"), title="Lead", icon=":material/person_search:", url_path="lead"),
        ],
        "Operations": [
            st.Page(page("pipeline"), title="Pipeline health", icon=":material/monitor_heart:", url_path="pipeline"),
            st.Page(page("model"), title="Model", icon=":material/model_training:", url_path="model"),
            st.Page(page("drift"), title="Drift", icon=":material/ssid_chart:", url_path="drift"),
        ],
    }
)
navigation.run()
