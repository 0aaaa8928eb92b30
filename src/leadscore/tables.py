"""Logical tables and where they live: folders under the lakehouse locally, `catalog.schema.table` on Databricks.

This mapping is the only list of tables; everything else asks `Config.table(logical)`. Spark and Delta are imported
where a method needs them, so the console (which reads without a JVM) can use the mapping without pyspark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, DataFrameWriter, SparkSession
    from pyspark.sql import types as T

# Written by a micro-batch a second: a Delta checkpoint (a Spark job writing the table's whole state) every 100
# commits rather than every 10, and statistics only on the columns queries filter on (Delta computes min/max/nulls
# of the first 32 columns of every file otherwise: most of the cost of a small append).
STREAMED = {"delta.checkpointInterval": "100"}
INGEST_LINEAGE = ("_ingest_query_id", "_ingest_batch_id")
# The error conditions of a table that is not there: no folder, or a folder without a Delta log.
MISSING_TABLE = ("PATH_NOT_FOUND", "DELTA_TABLE_NOT_FOUND", "DELTA_MISSING_DELTA_TABLE", "DELTA_PATH_DOES_NOT_EXIST")


@dataclass(frozen=True)
class TableSpec:
    layer: str  # medallion layer
    name: str
    stats_columns: tuple[str, ...]  # the columns filtered on: Delta keeps file statistics for these only
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def table_properties(self) -> dict[str, str]:
        return {"delta.dataSkippingStatsColumns": ",".join(self.stats_columns), **self.properties}


TABLES: dict[str, TableSpec] = {
    "bronze_leads": TableSpec(
        "bronze", "leads", ("_source_file", "_file_modification_time", *INGEST_LINEAGE), STREAMED
    ),
    "silver_leads": TableSpec("silver", "leads", ("prospect_id", "event_ts", *INGEST_LINEAGE), STREAMED),
    "quarantine": TableSpec("silver", "quarantine", ("event_ts", "_source_file", *INGEST_LINEAGE), STREAMED),
    "duplicates": TableSpec("silver", "duplicates", ("event_ts", "_source_file", *INGEST_LINEAGE), STREAMED),
    "gold_training": TableSpec("gold", "training", ("prospect_id", "split")),
    # One row per scored event, appended by the live query: where a score becomes visible to agents (the live view,
    # leadscore.scoring.live), and the audit log of every score a lead had, by model version.
    "score_events": TableSpec(
        "gold",
        "score_events",
        ("prospect_id", "event_ts", "_ingested_at"),
        {**STREAMED, "delta.enableChangeDataFeed": "true"},
    ),
    "lead_scores": TableSpec(
        "gold",
        "lead_scores",
        # `_ingested_at`: its maximum is the high-water mark past which the live view reads score_events.
        ("prospect_id", "lead_number", "score", "event_ts", "scored_at", "_ingested_at"),
        {
            **STREAMED,
            "delta.enableChangeDataFeed": "true",  # the CRM sync reads the table's changes
            "delta.enableDeletionVectors": "true",  # an update marks the old row instead of rewriting its file
            # Every MERGE adds files and scans them all, so the MERGEs' small files are compacted once they gather
            # (scoring.merge.COMPACTION_SETTINGS). Not clustered: Delta 4.0 clusters by rewriting every file.
            "delta.autoOptimize.autoCompact": "true",
        },
    ),  # each scores micro-batch's record is in its MERGE's commit (leadscore.monitoring.batches)
    "drift": TableSpec("gold", "drift", ("model_id", "computed_at")),  # drift metrics per monitor run
    # Bins and reference distributions, fixed per model version.
    "drift_baseline": TableSpec("gold", "drift_baseline", ("model_id",)),
}


# Views over the tables: created in the schema on Databricks (catalog storage), named as tables are.
VIEWS: dict[str, tuple[str, str]] = {"lead_scores_live": ("gold", "lead_scores_live")}  # logical -> (layer, name)


@dataclass(frozen=True)
class Table:
    logical: str
    location: str  # a folder, or catalog.schema.table
    by_path: bool

    def exists(self, spark: SparkSession) -> bool:
        """Whether the Delta table is there, asked by resolving it (Delta's Python API does not reach a Connect server).

        Resolving reads the table's schema from its log; `DESCRIBE DETAIL` would also rebuild its whole state (every
        file) in a Spark job, which is slow in a new process.
        """
        if not self.by_path:
            return spark.catalog.tableExists(self.location)
        from pyspark.errors import AnalysisException

        try:
            _ = spark.sql(f"SELECT * FROM {self.sql_name} LIMIT 0").schema
        except AnalysisException as error:
            if error.getCondition() in MISSING_TABLE:
                return False
            raise
        return True

    def history(self, spark: SparkSession, limit: int | None = None) -> DataFrame:
        """The table's commits, newest first (`DESCRIBE HISTORY`)."""
        return spark.sql(f"DESCRIBE HISTORY {self.sql_name}" + (f" LIMIT {limit}" if limit else ""))

    def latest_version(self, spark: SparkSession) -> int:
        return self.history(spark, 1).first()["version"]

    def read(self, spark: SparkSession, **options: str) -> DataFrame:
        """The table (as of `versionAsOf`/`timestampAsOf` if given); a table or version it does not have fails here,
        on a classic session and over Spark Connect alike (where a plan is otherwise analysed only when it runs)."""
        reader = spark.read.format("delta").options(**options)
        rows = reader.load(self.location) if self.by_path else reader.table(self.location)
        _ = rows.schema
        return rows

    def read_stream(self, spark: SparkSession, **options: str) -> DataFrame:
        reader = spark.readStream.format("delta").options(**options)
        return reader.load(self.location) if self.by_path else reader.table(self.location)

    def save(self, writer: DataFrameWriter) -> None:
        """Runs a configured batch writer against this table."""
        writer.format("delta").save(self.location) if self.by_path else writer.format("delta").saveAsTable(
            self.location
        )

    def create_if_missing(self, spark: SparkSession, schema: T.StructType) -> None:
        """Creates the empty table with the schema its writer produces (every column nullable) and its properties.

        In SQL, for a path as for a catalog name: open-source Delta's builder parses a name as `schema.table` (it
        rejects `catalog.schema.table`), and its Python API does not reach a Spark Connect server.
        """
        properties = ", ".join(f"'{k}' = '{v}'" for k, v in TABLES[self.logical].table_properties.items())
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {self.sql_name} ({_nullable(schema).toDDL()}) USING delta "
            f"TBLPROPERTIES ({properties})"
        )

    @property
    def sql_name(self) -> str:
        """How SQL names the table (``delta.`/path` `` locally)."""
        return f"delta.`{self.location}`" if self.by_path else self.location


def table_ref(logical: str, storage: str, lakehouse: str, catalog: str | None, schema: str | None) -> Table:
    layer, name = (TABLES[logical].layer, TABLES[logical].name) if logical in TABLES else VIEWS[logical]
    if storage == "path":
        return Table(logical, f"{lakehouse.rstrip('/')}/{layer}/{name}", by_path=True)
    return Table(logical, f"{catalog}.{schema}.{layer}_{name}", by_path=False)


def _nullable(schema: T.StructType) -> T.StructType:
    from pyspark.sql import types as T

    return T.StructType([T.StructField(f.name, f.dataType, True) for f in schema.fields])
