"""Landing CSV files -> bronze rows: every line of every file lands, parsed into the 37 raw columns or rescued whole.

Files arrive whole (Spark's binaryFile source), so a file that cannot be decoded, has no rows or another header
fails the micro-batch with an error naming it (and the line) before anything is committed, and every line keeps
its number. Spark's CSV reader is not the source: it skips blank lines (so lines after one are misnumbered),
yields nothing for an empty or header-only file, and cannot say where a row was in its file.

Parsing runs in the JVM, without a Python round trip: lines without a quote (about 96% of a real export) are split
on the delimiter; lines with one take the CSV-aware path (quoted fields, doubled quotes, the damage it can repair).
A quote is looked for with `contains` (a byte scan), not `instr`, which counts characters as it goes and is dear in
the parse (docs/performance.md, Design choices). Only a file holding a quoted field that spans lines
pays for `records_of`, which joins those lines into one record. The per-line parse (`parse_lines`) uses no lambda
(`transform`, `exists`, ...): Spark 4.0 interprets those, and one of them in a projection keeps the whole
projection out of the stage's generated code, for every line.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from leadscore.schema import RAW_NAMES, SOURCE_HEADER

FIELD_COUNT = len(RAW_NAMES)
# A field is quoted ("" escapes a quote), unquoted (a quote after its first character is kept as text), or empty.
_QUOTED_FIELD = r'"(?:[^"]|"")*+"'
_FIELD = rf'{_QUOTED_FIELD}|[^,"][^,]*+|'
LINE_PATTERN = rf"^(?:{_FIELD})(?:,(?:{_FIELD}))*+$"
FIELDS_PATTERN = rf"(?:^|,)({_FIELD})"
QUOTED_FIELD_PATTERN = rf"(^|,){_QUOTED_FIELD}(?=,|$)"
REPLACEMENT_CHARACTER = "\ufffd"  # what decoding puts where bytes were invalid in the file's encoding
FIELD_SEPARATOR = REPLACEMENT_CHARACTER  # between a line's fields while they are unquoted: never in a line we parse
# A quoted field's opening quote (after a separator), or where the last match ended inside it (`\G`); then text up to
# a doubled quote (one kept: group 3) or the closing quote (dropped). An unquoted field is never matched: a match
# starts only at a separator followed by a quote, or where the last one ended.
UNQUOTE_PATTERN = rf'(?:(^|{FIELD_SEPARATOR})"|\G(?!^))([^"{FIELD_SEPARATOR}]*)(?:(")"|"(?={FIELD_SEPARATOR}|$))'
# The same for a record that may span lines: a line break only inside a quoted field.
_RECORD_FIELD = rf'{_QUOTED_FIELD}|[^,"\n][^,\n]*+|'
RECORD_PATTERN = rf"^(?:{_RECORD_FIELD})(?:,(?:{_RECORD_FIELD}))*+$"
RECORD_FIELDS_PATTERN = rf"(?:^|,)({_RECORD_FIELD})"
# A whole row written as one quoted field (its own quotes doubled inside), perhaps followed by trailing delimiters.
WRAPPED_PATTERN = r'^"((?:[^"]|"")*)",*$'
FIRST_RECORD_LINE = 2  # every file's first record: the header is line 1, and a file without rows is refused
MAX_RECORD_LINES = 50  # lines a quoted field may span; beyond that an unclosed quote is damage, not a record

UTF8 = "utf-8"
BRONZE_METADATA = (
    "_source_file", "_file_modification_time", "_line_number", "_row_hash",
    "_rescued_data", "_parse_error", "_repair", "_ingested_at",
)  # fmt: skip
# `_ingested_at` is stamped by the ingest batch, not here: a per-batch timestamp in the parse's generated code would
# make Spark compile (and the JVM re-JIT) that large class again at every micro-batch.


def _unquoted(raw_fields: Column) -> Column:
    """Fields as the line writes them -> their values: a quoted field loses its quotes and has each doubled quote
    made one; an unquoted field is kept as it is, a stray quote in it included.

    Without a lambda (the module's note): the fields are joined by U+FFFD, which no line here holds (`split_files`
    refuses a file with one), `UNQUOTE_PATTERN` rewrites the quoted ones in one pass, and the result is split again.
    """
    joined = F.array_join(raw_fields, FIELD_SEPARATOR)
    return F.split(F.regexp_replace(joined, UNQUOTE_PATTERN, "$1$2$3"), FIELD_SEPARATOR, -1)


def _csv_fields(text: Column) -> Column:
    """The fields of a line holding quotes, unquoted."""
    return _unquoted(F.regexp_extract_all(text, F.lit(FIELDS_PATTERN), F.lit(1)))


def _without_trailing_empties(fields: Column) -> Column:
    """Drops empty fields after the 37th: what trailing delimiters leave (all empty = empty when joined: no lambda,
    the module's note)."""
    extra = F.slice(fields, FIELD_COUNT + 1, 1 << 30)
    return F.when(
        (F.size(fields) > FIELD_COUNT) & (F.array_join(extra, "") == ""), F.slice(fields, 1, FIELD_COUNT)
    ).otherwise(fields)


def _first_difference(expected: Column, found: Column) -> Column:
    """1-based position of the first header field that differs from the expected one, or null."""
    differs = F.zip_with(expected, found, lambda wanted, seen: ~wanted.eqNullSafe(seen))
    return F.nullif(F.array_position(differs, True).cast("int"), F.lit(0))


def _opens_record(line: Column) -> Column:
    """The line holds a quote and is not a whole CSV line: a quoted field opened and not closed on it."""
    return line.contains('"') & ~line.rlike(LINE_PATTERN)


def _is_record(text: Column) -> Column:
    """The text is exactly one CSV record of the export's columns (a quoted field may hold line breaks, an unquoted
    one may not), trailing delimiters aside."""
    fields = F.regexp_extract_all(text, F.lit(RECORD_FIELDS_PATTERN), F.lit(1))
    return text.rlike(RECORD_PATTERN) & (F.size(_without_trailing_empties(fields)) == FIELD_COUNT)


def _joined(lines: Column, start: Column, end: Column) -> Column:
    """Lines `start`..`end` (0-based, inclusive) joined by line breaks."""
    return F.array_join(F.slice(lines, start + 1, end - start + 1), "\n")


def record_ends(lines: Column) -> Column:
    """Per line (0-based): where the record it opens ends, if joining it with the lines after it (up to
    MAX_RECORD_LINES in all) makes one record of the export's columns; else null."""
    last = F.size(lines) - 1
    return F.transform(
        lines,
        lambda line, i: F.when(
            _opens_record(line) & (i < last),
            F.try_element_at(
                F.filter(
                    F.sequence(i + 1, F.least(i + MAX_RECORD_LINES - 1, last)),
                    lambda end: _is_record(_joined(lines, i, end)),
                ),
                F.lit(1),
            ),
        ),
    )


SPANS = T.ArrayType(T.StructType([T.StructField("start", T.IntegerType()), T.StructField("end", T.IntegerType())]))


def record_spans(ends: Column) -> Column:
    """The records joined, taken left to right: a line opens one only if no record joined before it covers it, so a
    damaged quote never swallows the good rows after it."""
    lines = F.sequence(F.lit(0), F.size(ends) - 1)
    return F.aggregate(
        lines,
        F.struct(F.lit(0).alias("next"), F.array().cast(SPANS).alias("spans")),
        lambda taken, i: F.when(
            (i >= taken["next"]) & ends[i].isNotNull(),
            F.struct(
                (ends[i] + 1).alias("next"),
                F.array_append(taken["spans"], F.struct(i.alias("start"), ends[i].alias("end"))).alias("spans"),
            ),
        ).otherwise(taken),
    )["spans"]


def records_of(lines: Column, spans: Column) -> Column:
    """A file's data lines -> its records as (line number, text), numbered from 2 (the header is line 1): the lines
    a span covers joined by line breaks and numbered by the first, every other line alone (bronze rescues an
    unclosed quote no lines complete as broken quoting)."""
    starts = F.filter(
        F.sequence(F.lit(0), F.size(lines) - 1),
        lambda i: ~F.exists(spans, lambda s: (i > s["start"]) & (i <= s["end"])),
    )
    return F.transform(
        starts,
        lambda i: F.struct(
            (i + FIRST_RECORD_LINE).cast("long").alias("line"),
            F.coalesce(
                _joined(lines, i, F.try_element_at(F.filter(spans, lambda s: s["start"] == i), F.lit(1))["end"]),
                lines[i],
            ).alias("text"),
        ),
    )


def _is_utf8(encoding: str) -> bool:
    return encoding.lower().replace("_", "-") in (UTF8, "utf8")


def decoded(content: Column, encoding: str) -> Column:
    """The file's text; bytes invalid in `encoding` become U+FFFD, which `split_files` then refuses by line.

    Any encoding other than UTF-8 (e.g. windows-1252, which spreadsheet tools write) needs the session settings
    `legacy_charsets` gives.
    """
    if _is_utf8(encoding):
        return F.make_valid_utf8(content.cast("string"))
    return F.decode(content, encoding)


def legacy_charsets(spark: SparkSession, encoding: str) -> None:
    """Spark 4 decodes only a few charsets and fails a whole query on one bad byte; a declared encoding needs Java's
    charsets, with bad bytes replaced so the error can name the line."""
    if not _is_utf8(encoding):
        spark.conf.set("spark.sql.legacy.javaCharsets", "true")
        spark.conf.set("spark.sql.legacy.codingErrorAction", "true")


def split_files(files: DataFrame, encoding: str = UTF8) -> DataFrame:
    """binaryFile rows (path, modificationTime, length, content) -> one row per record, numbered from 1 = header.

    Fails the query, naming the file (and line), on bytes invalid in `encoding`, another header, or no rows. Each
    step is its own projection referring to the one before, so that Spark splits a file once, not once per use.
    """
    path, lines, header = F.col("path"), F.col("_lines"), F.col("_header")
    text = F.col("_text")
    decoded_files = files.select("path", "modificationTime", decoded(F.col("content"), encoding).alias("_text"))
    split = decoded_files.select(
        "path",
        "modificationTime",
        text.contains(REPLACEMENT_CHARACTER).alias("_invalid"),
        F.split(text, "\n").alias("_lines"),
    )
    with_header = split.select(
        "*",
        F.regexp_replace(F.rtrim(F.regexp_replace(lines[0], "^\ufeff", ""), F.lit("\r")), ",+$", "").alias("_header"),
        (F.size(lines) - F.when(F.element_at(lines, -1) == "", 2).otherwise(1)).alias("_data_lines"),
    )
    expected_text = ",".join(SOURCE_HEADER)
    header_fields = with_header.select(
        "*", F.when(header != expected_text, _csv_fields(header)).alias("_header_fields")
    )
    expected = F.array(*[F.lit(h) for h in SOURCE_HEADER])
    measured = header_fields.select("*", _first_difference(expected, F.col("_header_fields")).alias("_differs_at"))
    differs_at = F.col("_differs_at")
    bad_line = F.array_position(F.transform(lines, lambda line: line.contains(REPLACEMENT_CHARACTER)), True)
    named = "UTF-8" if _is_utf8(encoding) else encoding
    undecodable = F.concat(F.lit(": line "), bad_line.cast("string"), F.lit(f" has bytes that are not {named}"))
    found = F.coalesce(F.try_element_at(F.col("_header_fields"), differs_at), F.lit("(none)"))
    wanted = F.coalesce(F.try_element_at(expected, differs_at), F.lit("(none)"))

    def fail(*message: Column) -> Column:
        return F.raise_error(F.concat(F.lit("file "), F.regexp_replace(path, "^file:", ""), *message))

    checked = measured.select(
        "path",
        "modificationTime",
        F.when(F.col("_invalid"), fail(undecodable))
        .when(
            differs_at.isNotNull(),
            fail(
                F.lit(": line 1 is not the lead export's header: column "), differs_at.cast("string"), F.lit(" is '"),
                found, F.lit("' where '"), wanted, F.lit("' was expected"),
            ),
        )
        .when(F.col("_data_lines") < 1, fail(F.lit(" has a header but no lead rows")))
        .otherwise(F.transform(F.slice(lines, 2, F.col("_data_lines")), lambda line: F.rtrim(line, F.lit("\r"))))
        .alias("_data"),
    )  # fmt: skip
    data = F.col("_data")
    spans_lines = F.col("_spans_lines")
    flagged = checked.select("*", F.exists(data, _opens_record).alias("_spans_lines"))
    # Only a file with a quoted field spanning lines pays for joining them; each step its own projection, computed once.
    ended = flagged.select("*", F.when(spans_lines, record_ends(data)).alias("_ends"))
    spanned = ended.select("*", F.when(spans_lines, record_spans(F.col("_ends"))).alias("_spans"))
    numbered = F.transform(
        data, lambda line, i: F.struct((i + FIRST_RECORD_LINE).cast("long").alias("line"), line.alias("text"))
    )
    records = spanned.select(
        "path",
        "modificationTime",
        F.when(spans_lines, records_of(data, F.col("_spans"))).otherwise(numbered).alias("_records"),
    )
    # explode_outer: a plain explode makes the optimizer infer a `size(_records) > 0` filter and push it below,
    # which would compute every step above twice. `_records` is never empty (a file without rows fails above).
    return records.select(
        F.col("path").alias("_source_file"),
        F.col("modificationTime").alias("_file_modification_time"),
        F.explode_outer("_records").alias("_record"),
    ).select(
        "_source_file",
        "_file_modification_time",
        F.col("_record.line").alias("_line_number"),
        F.col("_record.text").alias("_line"),
    )


def row_hash(line: Column) -> Column:
    """The content's identity: the record's text without trailing delimiters, so an identical re-delivery has it.

    `rtrim` of the delimiter, not the regular expression `,+$`: the same text, without trying a match at every
    delimiter of every line."""
    return F.md5(F.rtrim(line, F.lit(",")))


def parse_lines(lines: DataFrame) -> DataFrame:
    """Lines -> the 37 raw string columns; a line that cannot be split into them keeps its text in `_rescued_data`.

    Repairs only what is unambiguous, and says so in `_repair`: extra trailing delimiters; a stray quote inside an
    unquoted field (kept as text); a whole row written as one quoted field whose inner text is exactly a row.
    """
    line = F.col("_line")
    wrapped = F.regexp_extract(line, WRAPPED_PATTERN, 1)
    unwrapped = lines.select(
        "*",
        F.when(line.startswith('"'), F.nullif(F.replace(wrapped, F.lit('""'), F.lit('"')), F.lit(""))).alias(
            "_unwrapped"
        ),
    )
    text = F.coalesce(F.col("_unwrapped"), line)
    quoted = text.contains('"')
    raw_fields = F.regexp_extract_all(text, F.lit(FIELDS_PATTERN), F.lit(1))
    split = unwrapped.select(
        "*",
        (~quoted | text.rlike(LINE_PATTERN)).alias("_well_quoted"),
        F.when(quoted, _unquoted(raw_fields)).otherwise(F.split(text, ",", -1)).alias("_all_fields"),
    )
    trimmed = split.select("*", _without_trailing_empties(F.col("_all_fields")).alias("_fields"))
    fields, well_quoted = F.col("_fields"), F.col("_well_quoted")
    judged = trimmed.select(
        "*",
        (well_quoted & (F.size(fields) == FIELD_COUNT)).alias("_parsed"),
        (F.size("_all_fields") - F.greatest(F.size(fields), F.lit(FIELD_COUNT + 1))).alias("_extra_delimiters"),
    )
    parsed, extra, was_wrapped = F.col("_parsed"), F.col("_extra_delimiters"), F.col("_unwrapped").isNotNull()
    # A quote left once the quoted fields are taken out is inside an unquoted field (the line is well quoted).
    stray_quote = quoted & F.regexp_replace(text, QUOTED_FIELD_PATTERN, "$1").contains('"')
    repairs = F.concat_ws(
        "; ",
        F.when(was_wrapped, F.lit("unwrapped a whole row written as one quoted field")),
        F.when(extra > 0, F.concat(F.lit("removed "), extra.cast("string"), F.lit(" extra trailing delimiter(s)"))),
        F.when(stray_quote, F.lit("kept a stray quote inside an unquoted field as text")),
    )
    error = F.concat(
        F.when(
            was_wrapped, F.lit("a whole row written as one quoted field, but its inner text is not a row: ")
        ).otherwise(""),
        F.when(~well_quoted, F.lit("broken quoting: a quoted field is not closed or is followed by text")).otherwise(
            F.concat(F.lit(f"expected {FIELD_COUNT} fields, found "), F.size(fields).cast("string"))
        ),
    )
    return judged.select(
        "_source_file",
        "_file_modification_time",
        "_line_number",
        *[F.when(parsed, fields[i]).alias(name) for i, name in enumerate(RAW_NAMES)],
        row_hash(line).alias("_row_hash"),
        F.when(~parsed, line).alias("_rescued_data"),
        F.when(~parsed, error).alias("_parse_error"),
        F.when(parsed, F.nullif(repairs, F.lit(""))).alias("_repair"),
    )


def to_bronze(files: DataFrame, encoding: str = UTF8) -> DataFrame:
    return parse_lines(split_files(files, encoding))
