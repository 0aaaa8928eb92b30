"""How commands write rows: aligned text for people, CSV or JSON for tools (then stdout holds only that document)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from leadscore.errors import LeadscoreError

FORMATS = ("table", "csv", "json")
# Timestamps are shown in the session time zone, the zone `timestampAsOf` reads its argument in.
TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss.SSS"


def rows_of(df: DataFrame) -> list[dict[str, Any]]:
    """Collects the rows as dicts; timestamps become text in the session time zone, as `--timestamp` takes them."""
    columns = [
        F.date_format(f.name, TIMESTAMP_FORMAT).alias(f.name) if isinstance(f.dataType, T.TimestampType) else f.name
        for f in df.schema.fields
    ]
    return [row.asDict() for row in df.select(*columns).collect()]


def _cell(value: Any, table: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and table:
        return f"{value:.4f}"
    return str(value)


def render(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str) -> str:
    """`table`: aligned text for people (scores to 4 decimals); `csv`: a header and full-precision values."""
    cells = [[_cell(row[c], fmt == "table") for c in columns] for row in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([list(columns), *cells])
        return buffer.getvalue()
    widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    lines = [columns, ["-" * w for w in widths], *cells]
    return "".join("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() + "\n" for line in lines)


def emit(
    rows: list[dict[str, Any]],
    columns: Sequence[str],
    fmt: str,
    summary: dict[str, Any],
    table_columns: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Prints the rows and returns the run's summary with their count, which the CLI prints as its last line.

    table: `table_columns` (or all) aligned for people, the summary after them; csv: a header and every column;
    json: one array of row objects. With csv and json stdout holds only that document, and the summary goes to stderr
    (`data_on_stdout` below), so `> file` gets a file that tool reads.
    """
    if fmt not in FORMATS:
        raise LeadscoreError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if fmt == "json":
        print(json.dumps(rows, default=str), flush=True)
    else:
        print(render(rows, (table_columns or columns) if fmt == "table" else columns, fmt), end="", flush=True)
    return {**summary, "count": len(rows)}


def add_format_argument(parser) -> None:
    """`--format table|csv|json` of a command that writes rows; with csv or json its summary goes to stderr."""
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.set_defaults(data_on_stdout=lambda args: args.format != "table")
