"""Landing CSV files -> bronze: every line of every file lands, parsed into the 37 raw columns or rescued whole.

Files are read whole (Spark's binaryFile source), so a file with bytes that are not UTF-8, no rows or another
header fails the micro-batch with an error naming it before anything is committed. Each line is then split with
a CSV-aware regular expression in the JVM: no Python on the hot path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming import StreamingQuery

from leadscore.config import Config
from leadscore.errors import LeadscoreError
from leadscore.schema import RAW_NAMES, SOURCE_HEADER
from leadscore.streams import trigger

FIELD_COUNT = len(RAW_NAMES)
# A field is quoted ("" escapes a quote), unquoted (a quote after its first character is kept as text), or empty.
_FIELD = r'"(?:[^"]|"")*+"|[^,"][^,]*+|'
LINE_PATTERN = rf"^(?:{_FIELD})(?:,(?:{_FIELD}))*+$"
FIELDS_PATTERN = rf"(?:^|,)({_FIELD})"
# Over the raw fields joined by \u0001: a field that does not open with a quote but holds one.
STRAY_QUOTE_PATTERN = '(?:^|\u0001)[^"\u0001][^\u0001]*"'

# What Spark's binaryFile source gives for each file.
BINARY_FILE_SCHEMA = T.StructType(
    [
        T.StructField("path", T.StringType()),
        T.StructField("modificationTime", T.TimestampType()),
        T.StructField("length", T.LongType()),
        T.StructField("content", T.BinaryType()),
    ]
)
REPLACEMENT_CHARACTER = "\ufffd"  # what make_valid_utf8 puts where bytes were not UTF-8
BRONZE_METADATA = (
    "_source_file", "_file_modification_time", "_line_number", "_row_hash",
    "_rescued_data", "_parse_error", "_repair", "_ingested_at",
)  # fmt: skip


def _fields(text: Column) -> Column:
    """The line's fields, unquoted."""
    return _unquoted(F.regexp_extract_all(text, F.lit(FIELDS_PATTERN), F.lit(1)))


def _unquoted(raw_fields: Column) -> Column:
    return F.transform(
        raw_fields,
        lambda f: F.when(
            f.startswith('"'), F.replace(F.substring(f, F.lit(2), F.length(f) - 2), F.lit('""'), F.lit('"'))
        ).otherwise(f),
    )


def _without_trailing_empties(fields: Column) -> Column:
    """Drops empty fields after the 37th: what trailing delimiters leave."""
    extra = F.slice(fields, FIELD_COUNT + 1, 1 << 30)
    return F.when(
        (F.size(fields) > FIELD_COUNT) & (F.concat_ws("", extra) == ""), F.slice(fields, 1, FIELD_COUNT)
    ).otherwise(fields)


def _first_difference(expected: Column, found: Column) -> Column:
    """1-based position of the first header field that differs from the expected one, or null."""
    positions = F.sequence(F.lit(1), F.greatest(F.size(expected), F.size(found)))
    differing = F.transform(
        positions, lambda i: F.when(~F.try_element_at(expected, i).eqNullSafe(F.try_element_at(found, i)), i)
    )
    return F.array_min(F.filter(differing, lambda i: i.isNotNull()))


def split_files(files: DataFrame) -> DataFrame:
    """binaryFile rows (path, modificationTime, length, content) -> one row per data line, numbered from 1 = header.

    Fails the query, naming the file (and line), on bytes that are not UTF-8, another header, or no rows.
    Each step is its own projection so that Spark splits a file once, not once per line.
    """
    path, lines = F.col("path"), F.col("_lines")
    expected = F.array(*[F.lit(h) for h in SOURCE_HEADER])
    split = files.select(
        "path",
        "modificationTime",
        "length",
        "content",
        F.split(F.make_valid_utf8(F.col("content").cast("string")), "\n").alias("_lines"),
    )
    header = F.regexp_replace(F.regexp_replace(lines[0], "^\ufeff", ""), "\r$", "")
    with_header = split.select("*", _without_trailing_empties(_fields(header)).alias("_header"))
    measured = with_header.select(
        "*",
        _first_difference(expected, F.col("_header")).alias("_differs_at"),
        (F.size(lines) - F.when(F.element_at(lines, -1) == "", 2).otherwise(1)).alias("_data_lines"),
    )
    differs_at = F.col("_differs_at")
    bad_line = F.array_position(F.transform(lines, lambda line: F.instr(line, REPLACEMENT_CHARACTER) > 0), True)
    found = F.coalesce(F.try_element_at(F.col("_header"), differs_at), F.lit("(none)"))
    wanted = F.coalesce(F.try_element_at(expected, differs_at), F.lit("(none)"))

    def fail(*message: Column) -> Column:
        return F.raise_error(F.concat(F.lit("file "), F.regexp_replace(path, "^file:", ""), *message))

    checked = (
        F.when(
            ~F.is_valid_utf8(F.col("content").cast("string")),
            fail(F.lit(": line "), bad_line.cast("string"), F.lit(" has bytes that are not UTF-8")),
        )
        .when(
            differs_at.isNotNull(),
            fail(
                F.lit(": line 1 is not the lead export's header: column "),
                differs_at.cast("string"),
                F.lit(" is '"),
                found,
                F.lit("' where '"),
                wanted,
                F.lit("' was expected"),
            ),  # fmt: skip
        )
        .when(F.col("_data_lines") < 1, fail(F.lit(" has a header but no lead rows")))
        .otherwise(F.slice(lines, 2, F.col("_data_lines")))
    )
    return measured.select(
        path.alias("_source_file"),
        F.col("modificationTime").alias("_file_modification_time"),
        F.posexplode(checked).alias("_position", "_line"),
    ).select(
        "_source_file",
        "_file_modification_time",
        (F.col("_position") + 2).cast("long").alias("_line_number"),
        F.rtrim("_line", F.lit("\r")).alias("_line"),
    )


def parse_lines(lines: DataFrame) -> DataFrame:
    """Lines -> the 37 raw string columns; a line that cannot be split into them keeps its text in `_rescued_data`.

    Repairs only what is unambiguous, and says so in `_repair`: extra trailing delimiters, and a stray quote
    inside an unquoted field (kept as text). Staged projections keep each regular expression to one pass a line,
    and only lines holding a quote pay for the CSV-aware path.
    """
    line = F.col("_line")
    quoted = F.instr(line, '"') > 0
    raw_fields = F.regexp_extract_all(line, F.lit(FIELDS_PATTERN), F.lit(1))
    split = lines.select(
        "*",
        (~quoted | line.rlike(LINE_PATTERN)).alias("_well_quoted"),
        F.when(quoted, raw_fields).alias("_raw_fields"),
    )
    unquoted = split.select(
        "*",
        F.coalesce(F.array_join("_raw_fields", "\u0001").rlike(STRAY_QUOTE_PATTERN), F.lit(False)).alias(
            "_stray_quote"
        ),
        F.when(quoted, _unquoted(F.col("_raw_fields"))).otherwise(F.split(line, ",", -1)).alias("_all_fields"),
    )
    trimmed = unquoted.select("*", _without_trailing_empties(F.col("_all_fields")).alias("_fields"))
    fields, well_quoted = F.col("_fields"), F.col("_well_quoted")
    judged = trimmed.select(
        "*",
        (well_quoted & (F.size(fields) == FIELD_COUNT)).alias("_parsed"),
        (F.size("_all_fields") - F.greatest(F.size(fields), F.lit(FIELD_COUNT + 1))).alias("_extra_delimiters"),
    )
    parsed, extra = F.col("_parsed"), F.col("_extra_delimiters")
    repairs = F.concat_ws(
        "; ",
        F.when(extra > 0, F.concat(F.lit("removed "), extra.cast("string"), F.lit(" extra trailing delimiter(s)"))),
        F.when(F.col("_stray_quote"), F.lit("kept a stray quote inside an unquoted field as text")),
    )
    error = F.when(
        ~well_quoted, F.lit("broken quoting: a quoted field is not closed or is followed by text")
    ).otherwise(F.concat(F.lit(f"expected {FIELD_COUNT} fields, found "), F.size(fields).cast("string")))
    content = F.when(parsed, F.concat_ws("\u0001", *[fields[i] for i in range(FIELD_COUNT)])).otherwise(line)
    return judged.select(
        "_source_file",
        "_file_modification_time",
        "_line_number",
        *[F.when(parsed, fields[i]).alias(name) for i, name in enumerate(RAW_NAMES)],
        F.md5(content).alias("_row_hash"),
        F.when(~parsed, line).alias("_rescued_data"),
        F.when(~parsed, error).alias("_parse_error"),
        F.when(parsed, F.nullif(repairs, F.lit(""))).alias("_repair"),
        F.current_timestamp().alias("_ingested_at"),
    )


def to_bronze(files: DataFrame) -> DataFrame:
    return parse_lines(split_files(files))


def check_landing(spark: SparkSession, source: str) -> None:
    """A missing landing path is an error, not an empty run; so is an empty export, which Spark's file sources
    would skip without a word."""
    if "://" in source:
        try:
            spark.read.format("binaryFile").load(source).select("path").limit(1).collect()
        except AnalysisException as error:
            if "PATH_NOT_FOUND" in str(error):
                raise LeadscoreError(f"source not found: {source}") from None
            raise
        return
    path = Path(source)
    if not path.exists():
        raise LeadscoreError(f"source not found: {source}")
    for file in [path] if path.is_file() else sorted(path.glob("*.csv")):
        if file.stat().st_size == 0:
            raise LeadscoreError(f"file {file} is empty")


def read_landing(spark: SparkSession, source: str, max_files_per_trigger: int | None) -> DataFrame:
    """The landing folder (or one file) as a stream of whole files; each file is taken once, as Auto Loader does."""
    folder, name = source.rstrip("/"), None
    if source.endswith(".csv"):
        folder, _, name = source.rpartition("/")
    reader = spark.readStream.format("binaryFile").schema(BINARY_FILE_SCHEMA).option("pathGlobFilter", name or "*.csv")
    if max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", max_files_per_trigger)
    return reader.load(folder)


def checkpoint_for(config: Config, source: str) -> str:
    """One bronze checkpoint per landing source: a second source is a second stream."""
    return config.checkpoint(f"bronze_{hashlib.sha1(source.encode()).hexdigest()[:12]}")


def create_table(spark: SparkSession, config: Config) -> None:
    """Bronze exists before its first file, so silver can stream from it even when nothing has landed yet."""
    empty = spark.createDataFrame([], BINARY_FILE_SCHEMA)
    config.table("bronze_leads").create_if_missing(spark, to_bronze(empty).schema)


def start_stream(
    spark: SparkSession, config: Config, source: str, *, available_now: bool, max_files_per_trigger: int | None
) -> StreamingQuery:
    bronze = to_bronze(read_landing(spark, source, max_files_per_trigger)).observe(
        "bronze",
        F.count(F.lit(1)).alias("rows"),
        F.count("_rescued_data").alias("rescued"),
        F.count("_repair").alias("repaired"),
    )
    writer = (
        bronze.writeStream.queryName("bronze")
        .format("delta")
        .outputMode("append")
        .option("checkpointLocation", checkpoint_for(config, source))
    )
    writer = trigger(writer, available_now, config.stream.trigger_seconds)
    table = config.table("bronze_leads")
    return writer.start(table.location) if table.by_path else writer.toTable(table.location)
