"""One small reader interface, two implementations: delta-rs over local Delta tables, and a Databricks SQL warehouse.

SQL text names tables as `{logical}` placeholders (`{lead_scores}`); each reader substitutes its own reference, at a
version when asked (`{lead_scores@3}`). The SQL itself is the subset both DataFusion and Databricks SQL accept.
Neither reader connects or reads anything until a query runs.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from typing import Any

import pandas as pd
import pyarrow as pa

from leadscore.config import Config
from leadscore.errors import LeadscoreError

PLACEHOLDER = re.compile(r"\{(\w+)(?:@(\d+))?\}")
HISTORY_COLUMNS = ("version", "timestamp", "operation", "operation_metrics", "user_metadata")


class Reader(ABC):
    """Reads the lakehouse's tables by logical name (src/leadscore/tables.py)."""

    def __init__(self, config: Config):
        self.config = config

    @abstractmethod
    def exists(self, logical: str) -> bool:
        """Whether the table has been created yet (a fresh lakehouse has none of the gold tables)."""

    @abstractmethod
    def query(self, sql: str) -> pd.DataFrame:
        """Runs SQL whose tables are `{logical}` or `{logical@version}` placeholders; timestamps come back in UTC."""

    @abstractmethod
    def history(self, logical: str, limit: int | None = None) -> pd.DataFrame:
        """The table's versions, newest first: version, timestamp (UTC), operation, operation_metrics (a dict),
        user_metadata (the commit's text, if its writer gave one)."""

    @abstractmethod
    def changes(self, logical: str, where: str) -> pd.DataFrame:
        """The change data feed of the rows matching `where` (SQL over the table's columns), every version:
        the table's columns plus _change_type, _commit_version and _commit_timestamp."""


def _plain(type_: pa.DataType) -> pa.DataType:
    """Arrow's view types (DataFusion reads Parquet strings as string views) as the plain ones pandas converts,
    also inside lists and structs."""
    if pa.types.is_string_view(type_):
        return pa.string()
    if pa.types.is_binary_view(type_):
        return pa.binary()
    if pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_list_view(type_):
        return pa.list_(_plain(type_.value_type))
    if pa.types.is_struct(type_):
        return pa.struct([field.with_type(_plain(field.type)) for field in type_])
    return type_


def _to_pandas(batches) -> pd.DataFrame:
    table = pa.table(batches)
    plain = pa.schema([field.with_type(_plain(field.type)) for field in table.schema])
    return _utc(table.cast(plain).to_pandas())


def _utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as UTC-aware values whichever reader read them."""
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            series = frame[column]
            frame[column] = series.dt.tz_localize("UTC") if series.dt.tz is None else series.dt.tz_convert("UTC")
    return frame


class DeltaLakeReader(Reader):
    """Local path-based tables through delta-rs. Reads go through its DataFusion SQL engine (QueryBuilder), which
    applies deletion vectors: the stream's MERGEs mark replaced rows in lead_scores rather than rewrite files."""

    def _location(self, logical: str) -> str:
        return self.config.table(logical).location

    def _table(self, logical: str, version: int | None = None):
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return DeltaTable(self._location(logical), version=version)
        except TableNotFoundError as error:
            raise LeadscoreError(f"no {logical} table at {self._location(logical)}") from error
        except Exception as error:  # delta-rs names a missing version in a generic error
            if version is not None and "version" in str(error).lower():
                raise LeadscoreError(f"{logical} has no version {version}") from error
            raise

    def exists(self, logical: str) -> bool:
        from deltalake import DeltaTable

        return DeltaTable.is_deltatable(self._location(logical))

    def query(self, sql: str) -> pd.DataFrame:
        from deltalake import QueryBuilder

        builder = QueryBuilder()
        registered: dict[str, str] = {}

        def register(match: re.Match) -> str:
            logical, version = match.group(1), match.group(2)
            name = f"{logical}_v{version}" if version is not None else logical
            if name not in registered:
                builder.register(name, self._table(logical, None if version is None else int(version)))
                registered[name] = logical
            return name

        text = PLACEHOLDER.sub(register, sql)
        return _to_pandas(builder.execute(text).read_all())

    def history(self, logical: str, limit: int | None = None) -> pd.DataFrame:
        commits = self._table(logical).history(limit)
        frame = pd.DataFrame(
            [
                (c["version"], pd.Timestamp(c["timestamp"], unit="ms", tz="UTC"), c["operation"],
                 dict(c.get("operationMetrics") or {}), c.get("userMetadata"))
                for c in commits
            ],
            columns=list(HISTORY_COLUMNS),
        )  # fmt: skip
        return frame.sort_values("version", ascending=False, ignore_index=True)

    def changes(self, logical: str, where: str) -> pd.DataFrame:
        feed = self._table(logical).load_cdf(starting_version=0, predicate=where)
        return _to_pandas(feed.read_all())


class WarehouseReader(Reader):
    """Unity Catalog tables through a Databricks SQL warehouse (databricks-sql-connector), as the Databricks App reads
    them: the warehouse is the App's resource, its id in DATABRICKS_WAREHOUSE_ID, and the App's own identity signs in
    (databricks-sdk's default credentials)."""

    WAREHOUSE_ENV = "DATABRICKS_WAREHOUSE_ID"

    def __init__(self, config: Config, connect=None):
        super().__init__(config)
        self._connect = connect or self._connect_to_warehouse
        self._connection = None

    def _connect_to_warehouse(self):
        from databricks import sql
        from databricks.sdk.core import Config as DatabricksConfig

        warehouse = os.environ.get(self.WAREHOUSE_ENV)
        if not warehouse:
            raise LeadscoreError(f"{self.WAREHOUSE_ENV} is not set: the App's SQL warehouse resource provides it")
        workspace = DatabricksConfig()
        return sql.connect(
            server_hostname=workspace.host,
            http_path=f"/sql/1.0/warehouses/{warehouse}",
            credentials_provider=lambda: workspace.authenticate,
        )

    def _name(self, logical: str) -> str:
        return self.config.table(logical).location

    def _fetch(self, text: str) -> pd.DataFrame:
        if self._connection is None:
            self._connection = self._connect()
        with self._connection.cursor() as cursor:
            cursor.execute(text)
            return _utc(cursor.fetchall_arrow().to_pandas())

    def exists(self, logical: str) -> bool:
        catalog, schema, table = self._name(logical).split(".")
        found = self._fetch(
            f"SELECT count(*) AS n FROM {catalog}.information_schema.tables "
            f"WHERE table_schema = '{schema}' AND table_name = '{table}'"
        )
        return bool(found["n"].iloc[0])

    def query(self, sql: str) -> pd.DataFrame:
        def reference(match: re.Match) -> str:
            logical, version = match.group(1), match.group(2)
            return self._name(logical) + (f" VERSION AS OF {int(version)}" if version is not None else "")

        return self._fetch(PLACEHOLDER.sub(reference, sql))

    def history(self, logical: str, limit: int | None = None) -> pd.DataFrame:
        described = self._fetch(f"DESCRIBE HISTORY {self._name(logical)}" + (f" LIMIT {int(limit)}" if limit else ""))
        metrics = described["operationMetrics"].map(lambda m: dict(m or {}))
        frame = pd.DataFrame(
            {
                "version": described["version"],
                "timestamp": described["timestamp"],
                "operation": described["operation"],
                "operation_metrics": metrics,
                "user_metadata": described["userMetadata"],
            }
        )
        return frame.sort_values("version", ascending=False, ignore_index=True)

    def changes(self, logical: str, where: str) -> pd.DataFrame:
        return self._fetch(f"SELECT * FROM table_changes('{self._name(logical)}', 0) WHERE {where}")


READERS: dict[str, type[Reader]] = {"deltalake": DeltaLakeReader, "warehouse": WarehouseReader}


def make_reader(config: Config, **options: Any) -> Reader:
    """The reader conf `console.reader` names (deltalake locally, warehouse on Databricks)."""
    return READERS[config.console.reader](config, **options)
