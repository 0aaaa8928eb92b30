"""The agents' console: a Streamlit app over the lakehouse (call queue, leads, pipeline health, model, drift).

Pages call `data` (one function per question they ask), which asks a `reader.Reader`: `deltalake` locally (the Delta
tables under the lakehouse, no JVM), a Databricks SQL warehouse in the Databricks App. Nothing here connects or reads
at import time: the reader is built on first use, from the configuration `leadscore console` passes to the app.
"""
