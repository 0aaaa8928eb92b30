"""Bronze parsing as pure transforms: lines in, raw columns or rescued text out."""

from __future__ import annotations

import csv
import hashlib
import os

import pytest
from chispa import assert_df_equality
from pyspark.errors import PySparkException

from leadscore.ingest import bronze, landing
from leadscore.schema import RAW_NAMES, SOURCE_HEADER

HEADER = ",".join(SOURCE_HEADER) + ","
FIELDS = [f"v{i}" for i in range(len(RAW_NAMES))]


def lines_frame(spark, *lines: str):
    rows = [("f.csv", None, n + 2, line) for n, line in enumerate(lines)]
    return spark.createDataFrame(
        rows, "_source_file string, _file_modification_time timestamp, _line_number long, _line string"
    )


def parsed(spark, *lines: str):
    return bronze.parse_lines(lines_frame(spark, *lines)).drop("_file_modification_time")


def test_plain_and_trailing_delimiter_lines_parse_into_the_37_columns(spark):
    out = parsed(spark, ",".join(FIELDS), ",".join(FIELDS) + ",").select(*RAW_NAMES, "_rescued_data", "_repair")
    expected = spark.createDataFrame([(*FIELDS, None, None)] * 2, out.schema)
    assert_df_equality(out, expected)


def test_quoted_fields_keep_delimiters_and_escaped_quotes(spark):
    fields = list(FIELDS)
    fields[12] = '"Banking, Investment And Insurance"'
    fields[24] = '"Will revert, ""soon"""'
    row = parsed(spark, ",".join(fields) + ",").first()
    assert row["Specialization"] == "Banking, Investment And Insurance"
    assert row["Tags"] == 'Will revert, "soon"'
    assert row["_rescued_data"] is None and row["_repair"] is None


# Quoted fields next to each other, first and last, empty, holding delimiters, doubled quotes or only a quote; and
# unquoted fields with stray quotes (single and doubled), which are kept as text.
TRICKY_FIELDS = [
    ['""', '""""', '"a""b"', '"a,""b"",c"', '"x,"', 'ab""c', 'ab"', '""""""', '","', '"a"""'],
    ['"first"', 'q"', '""","""', '"""x"""', "plain", '"end,"'],
]


@pytest.mark.parametrize("tricky", TRICKY_FIELDS)
def test_quoted_and_stray_quote_fields_read_as_pythons_csv_reads_them(spark, tricky):
    fields = tricky + FIELDS[len(tricky) :]
    if tricky[0].startswith('"'):  # a quoted first field: not a whole row written as one quoted field
        fields[-1] = "last"
    line = ",".join(fields)
    (expected,) = csv.reader([line])
    row = parsed(spark, line).first()
    assert row["_rescued_data"] is None, row["_parse_error"]
    assert [row[name] for name in RAW_NAMES] == expected
    assert expected[:3] in (["", '"', 'a"b'], ["first", 'q"', '","'])


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (",".join(FIELDS[:20]), "expected 37 fields, found 20"),
        (",".join(FIELDS[:3] + ["x,y"] + FIELDS[4:]) + ",", "expected 37 fields, found 39"),
        (",".join(FIELDS[:10] + ['"open'] + FIELDS[11:]), "broken quoting"),
        ("", "expected 37 fields, found 1"),
    ],
)
def test_unparseable_lines_land_rescued_with_their_text_and_reason(spark, line, error):
    row = parsed(spark, line).first()
    assert row["_rescued_data"] == line
    assert error in row["_parse_error"]
    assert all(row[name] is None for name in RAW_NAMES)
    assert row["_row_hash"] is not None


def test_unambiguous_damage_is_repaired_and_said(spark):
    stray = list(FIELDS)
    stray[11] = 'Ind"ia'
    extra, quote = parsed(spark, ",".join(FIELDS) + ",,,", ",".join(stray) + ",").orderBy("_line_number").collect()
    assert extra["_repair"] == "removed 2 extra trailing delimiter(s)"
    assert [extra[name] for name in RAW_NAMES] == FIELDS
    assert quote["_repair"] == "kept a stray quote inside an unquoted field as text"
    assert quote["Country"] == 'Ind"ia'


def test_row_hash_identifies_content_not_position(spark):
    rows = parsed(spark, ",".join(FIELDS) + ",", ",".join(FIELDS), ",".join(FIELDS[:-1] + ["other"])).collect()
    assert rows[0]["_row_hash"] == rows[1]["_row_hash"] != rows[2]["_row_hash"]


def test_row_hash_is_the_md5_of_the_text_without_trailing_delimiters(spark):
    """Pinned: silver, duplicates and the stream's de-duplication state hold hashes written by earlier versions."""
    text = ",".join(FIELDS)
    rows = parsed(spark, text + ",,,", '"' + text.replace('"', '""') + '",').collect()
    assert [r["_row_hash"] for r in rows] == [
        hashlib.md5(text.encode()).hexdigest(),
        hashlib.md5(('"' + text.replace('"', '""') + '"').encode()).hexdigest(),
    ]


def files_frame(spark, content: bytes, path: str = "file:/landing/a.csv"):
    return spark.createDataFrame([(path, None, len(content), bytearray(content))], landing.BINARY_FILE_SCHEMA)


def test_split_files_numbers_lines_from_the_header_and_drops_crlf(spark):
    content = f"{HEADER}\r\nfirst\r\nsecond\r\n".encode()
    out = bronze.split_files(files_frame(spark, content)).select("_line_number", "_line")
    assert_df_equality(out, spark.createDataFrame([(2, "first"), (3, "second")], out.schema))


def test_split_files_drops_every_carriage_return_ending_a_line_and_keeps_others(spark):
    content = f"{HEADER}\r\nfirst\r\r\nmid\rdle\n\r\nlast\r".encode()
    out = bronze.split_files(files_frame(spark, content)).select("_line_number", "_line")
    expected = [(2, "first"), (3, "mid\rdle"), (4, ""), (5, "last")]
    assert_df_equality(out, spark.createDataFrame(expected, out.schema))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f"{HEADER}\r\n".encode(), "file /landing/a.csv has a header but no lead rows"),
        (
            f"{HEADER}\r\nok\r\nbad \xff byte\r\n".encode("latin-1"),
            "file /landing/a.csv: line 3 has bytes that are not UTF-8",
        ),
        (
            HEADER.replace("Lead Source", "Channel").encode() + b"\r\nrow\r\n",
            "line 1 is not the lead export's header: column 4 is 'Channel' where 'Lead Source' was expected",
        ),
        (
            (HEADER + "Extra").encode() + b"\r\nrow\r\n",
            "line 1 is not the lead export's header: column 38 is 'Extra' where '(none)' was expected",
        ),
        (
            ",".join(SOURCE_HEADER[:-1]).encode() + b"\r\nrow\r\n",
            "column 37 is '(none)' where 'Last Notable Activity' was expected",
        ),
    ],
)
def test_bad_files_fail_the_query_naming_file_and_line(spark, content, message):
    with pytest.raises(PySparkException, match="USER_RAISED_EXCEPTION") as raised:
        bronze.split_files(files_frame(spark, content)).collect()
    assert message in str(raised.value)


def wrapped(fields: list[str]) -> str:
    """A row written as one quoted field, its own quotes doubled: the damage some exports show."""
    return '"' + ",".join(fields).replace('"', '""') + '"'


def test_a_whole_row_written_as_one_quoted_field_is_unwrapped_and_said(spark):
    fields = list(FIELDS)
    fields[12] = '"Banking, Investment And Insurance"'
    row = parsed(spark, wrapped(fields), wrapped(fields) + ",").orderBy("_line_number").collect()
    for repaired in row:
        assert repaired["_rescued_data"] is None
        assert repaired["Specialization"] == "Banking, Investment And Insurance"
        assert repaired["Prospect_ID"] == "v0" and repaired["Last_Notable_Activity"] == "v36"
        assert repaired["_repair"] == "unwrapped a whole row written as one quoted field"


@pytest.mark.parametrize(
    "near_miss",
    [
        wrapped(FIELDS[:30]),  # the inner text is not a row: too few fields
        wrapped(FIELDS + ["extra"]),  # too many
        '"' + ",".join(FIELDS[:10]) + ',"broken' + ",".join(FIELDS[10:]) + '"',  # inner quoting is not doubled
        '"just one field"',
    ],
)
def test_a_near_miss_of_a_wrapped_row_stays_rescued(spark, near_miss):
    row = parsed(spark, near_miss).first()
    assert row["_rescued_data"] == near_miss
    assert row["Prospect_ID"] is None and row["_repair"] is None


def test_split_files_keeps_a_quoted_field_that_spans_lines_as_one_record(spark):
    fields = list(FIELDS)
    fields[24] = '"Will revert\r\nafter reading the email"'
    lines = [",".join(FIELDS), ",".join(fields), ",".join(FIELDS[:1] + ["x"] + FIELDS[2:])]
    content = (HEADER + "\r\n" + "\r\n".join(lines) + "\r\n").encode()
    records = bronze.split_files(files_frame(spark, content)).orderBy("_line_number").collect()
    assert [r["_line_number"] for r in records] == [2, 3, 5]  # the record on lines 3-4 is one, numbered by its start
    row = bronze.parse_lines(bronze.split_files(files_frame(spark, content))).where("_line_number = 3").first()
    assert row["Tags"] == "Will revert\nafter reading the email"
    assert row["_rescued_data"] is None


def records(spark, *lines: str) -> list[tuple[int, str]]:
    content = (HEADER + "\r\n" + "\r\n".join(lines) + "\r\n").encode()
    rows = bronze.split_files(files_frame(spark, content)).orderBy("_line_number").collect()
    return [(r["_line_number"], r["_line"]) for r in rows]


def test_an_unclosed_quote_never_swallows_the_rows_after_it(spark):
    good = ",".join(FIELDS)
    broken = ",".join(FIELDS[:10] + ['"Email Opened'] + FIELDS[11:])
    assert records(spark, good, broken, good, good) == [(2, good), (3, broken), (4, good), (5, good)]


def test_a_record_is_numbered_by_its_first_line_and_a_quote_no_lines_close_stands_alone(spark):
    spanning = list(FIELDS)
    spanning[24] = '"Will revert\r\nafter reading the email"'
    good, record = ",".join(FIELDS), ",".join(spanning)
    dangling = ",".join(FIELDS[:5] + ['"never closed'] + FIELDS[6:])
    joined = record.replace("\r\n", "\n")
    assert records(spark, record, good, record, dangling, good) == [
        (2, joined),
        (4, good),
        (5, joined),
        (7, dangling),
        (8, good),
    ]


def test_a_declared_encoding_decodes_and_still_names_bytes_invalid_in_it(spark):
    content = f"{HEADER}\r\n{','.join(['Café'] + FIELDS[1:])}\r\n".encode("windows-1252")
    bronze.legacy_charsets(spark, "windows-1252")
    try:
        row = bronze.to_bronze(files_frame(spark, content), "windows-1252").first()
        assert row["Prospect_ID"] == "Café"
        bad = f"{HEADER}\r\nok\r\n".encode("windows-1252") + b"bad \x81 byte\r\n"
        with pytest.raises(PySparkException, match="line 3 has bytes that are not windows-1252"):
            bronze.split_files(files_frame(spark, bad), "windows-1252").collect()
        with pytest.raises(PySparkException, match="line 2 has bytes that are not UTF-8"):
            bronze.split_files(files_frame(spark, content)).collect()
    finally:
        spark.conf.unset("spark.sql.legacy.javaCharsets")
        spark.conf.unset("spark.sql.legacy.codingErrorAction")


@pytest.mark.parametrize(
    ("spelled", "normalised"),
    [
        ("/Volumes/main/leads/landing/", "/Volumes/main/leads/landing"),
        ("s3://bucket/landing/", "s3://bucket/landing"),
        ("landing", "{cwd}/landing"),
        ("./landing/", "{cwd}/landing"),
    ],
)
def test_a_source_has_one_spelling(spelled, normalised):
    assert landing.normalised_source(spelled) == normalised.format(cwd=os.getcwd())
