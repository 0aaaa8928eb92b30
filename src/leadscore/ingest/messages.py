"""Kafka messages -> bronze rows, the same columns a landing file's rows have: every message lands, parsed into the
37 raw columns or rescued whole.

A message's value is one lead as a JSON object keyed by the export's header names; every value is kept as text, as
the CSV path keeps it (a JSON number 5 is "5"). Its lineage takes the place of file and line: `_source_file` is
"<topic>/<partition, zero-padded>", `_file_modification_time` the broker's timestamp, `_line_number` the offset. So
silver's event order (event_ts, event_file, event_seq) is (broker timestamp, partition, offset), a lead's events
(one key, one partition) stay in the order the broker appended them, and `_source_file` + `_line_number` name each
message. A value that is not UTF-8, not a JSON object, has missing or unknown fields, or is absent keeps its text in
`_rescued_data` (a binary value as base64, an absent one as '') with a `_parse_error`; the `row_parsed` expectation
quarantines it.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from leadscore.config import SourceSettings
from leadscore.schema import RAW_NAMES, SOURCE_HEADER

PARTITION_DIGITS = 5  # `_source_file` compares as text: partitions in order up to 99,999
FIELDS = T.StructType([T.StructField(header, T.StringType()) for header in SOURCE_HEADER])
# Spark's Kafka source: its options for a topic, and for SASL over TLS (Databricks' runtime shades the client's
# classes under `kafkashaded.`; the open-source connector does not).
LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


def sasl_options(mechanism: str, username: str, password: str, *, shaded: bool) -> dict[str, str]:
    """The Kafka source's options for SASL over TLS with these credentials (Databricks' documented options)."""
    module = ("kafkashaded." if shaded else "") + LOGIN_MODULES[mechanism]
    quoted = {
        name: value.replace("\\", "\\\\").replace('"', '\\"') for name, value in (("u", username), ("p", password))
    }
    return {
        "kafka.security.protocol": "SASL_SSL",
        "kafka.sasl.mechanism": mechanism,
        "kafka.sasl.jaas.config": f'{module} required username="{quoted["u"]}" password="{quoted["p"]}";',
    }


def topic_options(source: SourceSettings) -> dict[str, str]:
    options = {
        "kafka.bootstrap.servers": source.bootstrap_servers,
        "subscribe": source.topic,
        "startingOffsets": source.starting_offsets,
        # A broker that restarts is waited for: offsets fetched again, not the query failed after three tries.
        "fetchOffset.numRetries": "60",
        "fetchOffset.retryIntervalMs": "1000",
    }
    if source.max_offsets_per_trigger:
        options["maxOffsetsPerTrigger"] = str(source.max_offsets_per_trigger)
    return options


def read_topic(spark: SparkSession, options: dict[str, str]) -> DataFrame:
    return spark.readStream.format("kafka").options(**options).load()


def _value_error(text: Column, keys: Column) -> Column:
    """Why the value is not a lead, or null."""
    header = F.array(*[F.lit(h) for h in SOURCE_HEADER])
    missing, unknown = F.array_except(header, keys), F.array_except(keys, header)
    return (
        F.when(F.col("value").isNull(), F.lit("the message has no value"))
        .when(text.isNull(), F.lit("the value is not UTF-8 text (kept as base64)"))
        .when(keys.isNull(), F.lit("the value is not a JSON object"))
        .when(
            (F.size(missing) > 0) | (F.size(unknown) > 0),
            F.concat_ws(
                "; ",
                F.when(F.size(missing) > 0, F.concat(F.lit("missing field(s): "), F.array_join(missing, ", "))),
                F.when(F.size(unknown) > 0, F.concat(F.lit("unknown field(s): "), F.array_join(unknown, ", "))),
            ),
        )
    )


def to_bronze(messages: DataFrame) -> DataFrame:
    """The Kafka source's rows (key, value, topic, partition, offset, timestamp, ...) -> bronze rows."""
    decoded = messages.select(
        F.concat(F.col("topic"), F.lit("/"), F.lpad(F.col("partition").cast("string"), PARTITION_DIGITS, "0")).alias(
            "_source_file"
        ),
        F.col("timestamp").alias("_file_modification_time"),
        F.col("offset").alias("_line_number"),
        "value",
        F.when(F.is_valid_utf8(F.col("value").cast("string")), F.col("value").cast("string")).alias("_text"),
    )
    text = F.col("_text")
    parsed = decoded.select(
        "*", F.json_object_keys(text).alias("_keys"), F.from_json(text, FIELDS).alias("_fields")
    ).select("*", _value_error(text, F.col("_keys")).alias("_error"))
    good = F.col("_error").isNull()
    return parsed.select(
        "_source_file",
        "_file_modification_time",
        "_line_number",
        *[F.when(good, F.col("_fields").getField(h)).alias(n) for h, n in zip(SOURCE_HEADER, RAW_NAMES, strict=True)],
        F.md5("value").alias("_row_hash"),  # null for an absent value, as nullable as a file row's
        F.when(~good, F.coalesce(text, F.base64("value"), F.lit(""))).alias("_rescued_data"),
        F.col("_error").alias("_parse_error"),
        F.lit(None).cast("string").alias("_repair"),
    )
