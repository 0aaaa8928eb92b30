"""Logical tables and where they live: folders under the lakehouse locally, `catalog.schema.table` on Databricks.

This mapping is the only list of tables; everything else asks `Config.table(logical)`. Spark and Delta are imported
where a method needs them, so the console (which reads without a JVM) can use the mapping without pyspark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from delta.tables import DeltaTable
    from pyspark.sql import DataFrame, DataFrameWriter, SparkSession
    from pyspark.sql import types as T

# logical name -> (medallion layer, table name)
TABLES: dict[str, tuple[str, str]] = {
    "bronze_leads": ("bronze", "leads"),
    "silver_leads": ("silver", "leads"),
    "quarantine": ("silver", "quarantine"),
    "duplicates": ("silver", "duplicates"),
    "gold_training": ("gold", "training"),
    "lead_scores": ("gold", "lead_scores"),
    "scoring_batches": ("gold", "scoring_batches"),  # one row per scores micro-batch (the scores stream)
    "drift": ("gold", "drift"),  # drift metrics per monitor run (leadscore monitor)
    "drift_baseline": ("gold", "drift_baseline"),  # bins and reference distributions fixed per model version
}


@dataclass(frozen=True)
class Table:
    logical: str
    location: str  # a folder, or catalog.schema.table
    by_path: bool

    def exists(self, spark: SparkSession) -> bool:
        from delta.tables import DeltaTable

        if self.by_path:
            return DeltaTable.isDeltaTable(spark, self.location)
        return spark.catalog.tableExists(self.location)

    def delta(self, spark: SparkSession) -> DeltaTable:
        from delta.tables import DeltaTable

        return DeltaTable.forPath(spark, self.location) if self.by_path else DeltaTable.forName(spark, self.location)

    def read(self, spark: SparkSession, **options: str) -> DataFrame:
        reader = spark.read.format("delta").options(**options)
        return reader.load(self.location) if self.by_path else reader.table(self.location)

    def read_stream(self, spark: SparkSession, **options: str) -> DataFrame:
        reader = spark.readStream.format("delta").options(**options)
        return reader.load(self.location) if self.by_path else reader.table(self.location)

    def save(self, writer: DataFrameWriter) -> None:
        """Runs a configured batch writer against this table."""
        writer.format("delta").save(self.location) if self.by_path else writer.format("delta").saveAsTable(
            self.location
        )

    def create_if_missing(
        self, spark: SparkSession, schema: T.StructType, properties: dict[str, str] | None = None
    ) -> None:
        """Creates the empty table with the schema its writer produces (every column nullable)."""
        from delta.tables import DeltaTable

        builder = DeltaTable.createIfNotExists(spark).addColumns(_nullable(schema))
        builder = builder.location(self.location) if self.by_path else builder.tableName(self.location)
        for key, value in (properties or {}).items():
            builder = builder.property(key, value)
        builder.execute()

    @property
    def sql_name(self) -> str:
        """How SQL names the table (``delta.`/path` `` locally)."""
        return f"delta.`{self.location}`" if self.by_path else self.location


def table_ref(logical: str, storage: str, lakehouse: str, catalog: str | None, schema: str | None) -> Table:
    layer, name = TABLES[logical]
    if storage == "path":
        return Table(logical, f"{lakehouse.rstrip('/')}/{layer}/{name}", by_path=True)
    return Table(logical, f"{catalog}.{schema}.{layer}_{name}", by_path=False)


def _nullable(schema: T.StructType) -> T.StructType:
    from pyspark.sql import types as T

    return T.StructType([T.StructField(f.name, f.dataType, True) for f in schema.fields])
