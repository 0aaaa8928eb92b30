"""Model monitoring: drift of recent silver leads from the champion model's training data, written to gold.drift.

`drift` holds the pure parts (bins fixed on the reference, binned counts, PSI); `reference` says what the champion
is and what it learned from; `monitor` runs one check and writes its rows. Names follow Databricks Lakehouse
Monitoring's drift table (`window`, `granularity`, `model_id`, `column_name`, `drift_type`) and Evidently's per-column
result (`column_type`, `stattest_name`, `stattest_threshold`, `drift_score`, `drift_detected`).

`batches` is the pipeline's own health: the record of each scores micro-batch, kept in its MERGE's commit.
"""
