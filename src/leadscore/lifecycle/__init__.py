"""The model lifecycle on MLflow: tracked trainings, a registry with `champion` and `challenger`, loading by alias.

tracking: the stores conf names (SQLite under the lakehouse locally; the workspace and Unity Catalog on Databricks).
registry: registered model names, aliases, resolving and loading a version, moving an alias.
publish: one training as an MLflow run (a nested run per candidate) and a registered version.
promotion: the challenger against the champion on the same test split.
report: the model card and the plots a training logs.
"""

import os

# MLflow 3 reports usage to its maintainers unless told not to; leadscore keeps it off unless a user opts in.
# Set before any module of this package imports mlflow.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
