"""A Kafka topic as the ingest source, on a real broker: simulate -> topic -> stream -> gold with every message
accounted for, bad messages quarantined with their reason, exactly once across a kill -9 and a broker restart, one
writer per checkpoint. Spark's 4.0.0 Kafka source runs here on the pinned PySpark 4.0.1."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from chispa import assert_df_equality
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from pyspark.sql import functions as F

from leadscore import cli
from leadscore.errors import LeadscoreError
from leadscore.ingest import bronze, landing, messages
from leadscore.ingest import query as ingest_query
from leadscore.ingest.sources import KafkaTopic
from leadscore.schema import SOURCE_HEADER
from leadscore.synthetic.generator import generate_chunks
from leadscore.synthetic.simulator import Topic, message, replay
from tests.helpers.lakehouse import config_for, without_run_stamps
from tests.helpers.processes import kill_when

TABLES = ("bronze_leads", "silver_leads", "quarantine", "duplicates")
A_LEAD = next(generate_chunks(1, seed=99, chunk_size=1, first_lead_number=7_000_000))[0]
WRONG_FIELDS = {**dict(zip(SOURCE_HEADER[1:], A_LEAD[1:], strict=True)), "Colour": "blue"}
# Bad messages (value -> the reason bronze gives): none stops the stream, each lands in bronze and in quarantine.
BAD_MESSAGES = {
    b"not json at all": "the value is not a JSON object",
    b"\xff\xfe\x00\x01": "the value is not UTF-8 text (kept as base64)",
    b'["a JSON array"]': "the value is not a JSON object",
    json.dumps(WRONG_FIELDS).encode(): "missing field(s): Prospect ID; unknown field(s): Colour",
    None: "the message has no value",
}


def kafka_config(lakehouse: Path, broker, topic: str, **overrides):
    return config_for(
        lakehouse,
        **{"source.kind": "kafka", "source.bootstrap_servers": broker.bootstrap, "source.topic": topic, **overrides},
    )


def messages_in(broker, topic: str) -> list:
    """Every message of the topic, read back from the broker."""
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    ends, read = consumer.end_offsets(partitions), []
    while any(consumer.position(p) < ends[p] for p in partitions):
        read += [record for records in consumer.poll(timeout_ms=1000).values() for record in records]
    consumer.close()
    return read


@pytest.fixture(scope="module")
def replayed(broker, new_topic):
    """A topic holding simulated leads (new ones and follow-ups) sent by `leadscore simulate`, then the bad messages
    and one lead's message sent twice; with every message read back from the broker."""
    topic = new_topic()
    argv = ["simulate", "--source", "generated", "--rows", "150", "--files", "3", "--seed", "5"]
    assert cli.main([*argv, "--kafka-bootstrap", broker.bootstrap, "--topic", topic]) == 0
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for value in BAD_MESSAGES:
        producer.send(topic, key=b"bad", value=value)  # a key: the client sends no message without key and value
    key, value = message(A_LEAD)
    for _ in range(2):
        producer.send(topic, key=key, value=value)
    producer.close()
    return topic, messages_in(broker, topic)


def test_simulate_sends_each_lead_as_a_json_object_keyed_by_the_exports_headers(replayed):
    _, sent = replayed
    simulated = [record for record in sent if record.value not in BAD_MESSAGES][:-2]
    assert len(simulated) > 150  # the new leads and their follow-ups
    for record in simulated:
        lead = json.loads(record.value)
        assert list(lead) == list(SOURCE_HEADER) and record.key.decode() == lead["Prospect ID"]


def test_messages_become_bronze_rows_of_the_files_columns_and_bad_ones_keep_their_value_and_reason(spark):
    as_numbers = {**dict(zip(SOURCE_HEADER, A_LEAD, strict=True)), "TotalVisits": 5, "Page Views Per Visit": 2.5}
    values = [message(A_LEAD)[1], json.dumps(as_numbers).encode(), *BAD_MESSAGES]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    sent = spark.createDataFrame(
        [(None, value, "leads", offset % 2, offset, at, 1) for offset, value in enumerate(values)],
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp, timestampType int",
    )
    rows = messages.to_bronze(sent)
    files = bronze.to_bronze(spark.createDataFrame([], landing.BINARY_FILE_SCHEMA))
    assert rows.schema == files.schema
    expected = spark.createDataFrame(
        [
            ("leads/00000", 0, A_LEAD[0], A_LEAD[7], None, None),
            ("leads/00001", 1, A_LEAD[0], "5", None, None),
            *[
                (f"leads/{offset % 2:05d}", offset, None, None, rescued, reason)
                for offset, (rescued, reason) in enumerate(
                    [
                        ("not json at all", BAD_MESSAGES[b"not json at all"]),
                        ("//4AAQ==", BAD_MESSAGES[b"\xff\xfe\x00\x01"]),
                        ('["a JSON array"]', BAD_MESSAGES[b'["a JSON array"]']),
                        (json.dumps(WRONG_FIELDS), BAD_MESSAGES[json.dumps(WRONG_FIELDS).encode()]),
                        ("", BAD_MESSAGES[None]),
                    ],
                    start=2,
                )
            ],
        ],
        "_source_file string, _line_number long, Prospect_ID string, TotalVisits string, _rescued_data string, "
        "_parse_error string",
    )
    assert_df_equality(rows.select(*expected.columns), expected, ignore_row_order=True)
    assert rows.where(F.col("_file_modification_time") != F.lit(at)).isEmpty()
    assert rows.select(F.col("Page_Views_Per_Visit")).where(F.col("_line_number") == 1).first()[0] == "2.5"


def test_leads_go_from_the_topic_to_gold_with_every_message_accounted_for_in_broker_order(
    spark, broker, replayed, trained_lakehouse, tmp_path
):
    topic, sent = replayed
    config = config_for(tmp_path / "lakehouse")
    Path(config.lakehouse).mkdir(parents=True)
    shutil.copy(Path(trained_lakehouse[0].lakehouse) / "mlflow.db", Path(config.lakehouse) / "mlflow.db")
    argv = ["stream", "--available-now", "--kafka-bootstrap", broker.bootstrap, "--topic", topic]
    assert cli.main([*argv, "--lakehouse", config.lakehouse]) == 0

    tables = {logical: config.table(logical).read(spark) for logical in TABLES}
    landed = [(row[0], row[1]) for row in tables["bronze_leads"].select("_source_file", "_line_number").collect()]
    assert sorted(landed) == sorted((f"{topic}/{r.partition:05d}", r.offset) for r in sent)
    counts = {logical: rows.count() for logical, rows in tables.items()}
    assert counts["bronze_leads"] == counts["silver_leads"] + counts["quarantine"] + counts["duplicates"]
    assert counts["duplicates"] == 1
    rescued = tables["quarantine"].where(F.col("_parse_error").isNotNull()).select("_parse_error").collect()
    reasons = [row[0] for row in rescued]
    assert sorted(reasons) == sorted(BAD_MESSAGES.values())

    # A silver event is the message of its key, at its partition and offset; the newest (broker order) is scored.
    keyed = {(r.key.decode(), f"{topic}/{r.partition:05d}", r.offset) for r in sent if r.key}
    events = tables["silver_leads"].select("prospect_id", "event_file", "event_seq")
    assert {tuple(row) for row in events.collect()} <= keyed
    newest = events.groupBy("prospect_id").agg(F.max(F.struct("event_file", "event_seq")).alias("event"))
    scored = config.table("lead_scores").read(spark)
    scored = scored.select("prospect_id", F.struct("event_file", "event_seq").alias("event"))
    assert_df_equality(scored, newest, ignore_row_order=True, ignore_nullable=True)


def commit_file(config, logical: str, version: int) -> Path:
    return Path(config.table(logical).location.removeprefix("file:")) / "_delta_log" / f"{version:020d}.json"


def test_ingest_killed_mid_topic_then_rerun_equals_an_uninterrupted_run_and_a_second_writer_stops(
    spark, broker, replayed, tmp_path
):
    topic, _ = replayed
    argv = ["ingest", "--kafka-bootstrap", broker.bootstrap, "--topic", topic, "--max-offsets-per-trigger", "60"]
    clean = config_for(tmp_path / "clean")
    assert cli.main([*argv, "--lakehouse", clean.lakehouse]) == 0
    killed = kafka_config(tmp_path / "killed", broker, topic, **{"source.max_offsets_per_trigger": 60})

    def second_writer(_) -> None:
        with pytest.raises(LeadscoreError, match="the ingest query is already running"):
            ingest_query.start(spark, killed, KafkaTopic(killed.source), available_now=True)

    # Killed once its second micro-batch has written bronze: the rest of that batch, and the topic after it, remain.
    kill_when([*argv, "--lakehouse", killed.lakehouse], commit_file(killed, "bronze_leads", 2), paused=second_writer)
    assert not commit_file(killed, "bronze_leads", 4).exists(), "killed too late"
    assert cli.main([*argv, "--lakehouse", killed.lakehouse]) == 0
    for logical in TABLES:
        written = (without_run_stamps(lakehouse.table(logical).read(spark)) for lakehouse in (killed, clean))
        assert_df_equality(*written, ignore_row_order=True)


def test_a_broker_restarted_during_a_run_is_waited_for_and_nothing_is_lost(spark, broker, new_topic, tmp_path):
    topic = new_topic()
    config = kafka_config(tmp_path / "lakehouse", broker, topic)
    into = Topic(broker.bootstrap, topic)
    replay("generated", into, files=2, rows=40, seed=7)
    query = ingest_query.start(spark, config, None, available_now=False)  # conf's source: the topic
    try:
        query.processAllAvailable()
        broker.stop()
        time.sleep(3 * config.stream.trigger_seconds)  # triggers find the broker gone, and wait for it
        broker.start()
        replay("generated", into, files=2, rows=40, seed=8)
        query.processAllAvailable()
        assert query.isActive and query.exception() is None
    finally:
        query.stop()
    sent = messages_in(broker, topic)
    landed = config.table("bronze_leads").read(spark).select("_source_file", "_line_number").collect()
    assert sorted(tuple(row) for row in landed) == sorted((f"{topic}/{r.partition:05d}", r.offset) for r in sent)


TOPIC_ONLY = {"source.kind": "kafka", "source.bootstrap_servers": "b1:9093,b2:9093", "source.topic": "leads"}


def test_a_secret_scope_gives_sasl_over_tls_from_the_secrets_and_the_brokers_from_conf(tmp_path):
    config = config_for(
        tmp_path, **TOPIC_ONLY, **{"source.secret_scope": "kafka", "source.max_offsets_per_trigger": 500}
    )
    secrets = {("kafka", "username"): "agent", ("kafka", "password"): 'p"w'}
    options = KafkaTopic(config.source, lambda scope, key: secrets[scope, key]).options()
    assert options["kafka.bootstrap.servers"] == "b1:9093,b2:9093" and options["subscribe"] == "leads"
    assert options["maxOffsetsPerTrigger"] == "500" and options["startingOffsets"] == "earliest"
    assert options["kafka.security.protocol"] == "SASL_SSL" and options["kafka.sasl.mechanism"] == "PLAIN"
    assert options["kafka.sasl.jaas.config"] == (
        'org.apache.kafka.common.security.plain.PlainLoginModule required username="agent" password="p\\"w";'
    )
    assert "kafka.security.protocol" not in KafkaTopic(config_for(tmp_path, **TOPIC_ONLY).source).options()


def test_a_kafka_source_without_its_topic_is_refused(tmp_path):
    with pytest.raises(LeadscoreError, match="needs bootstrap_servers and topic"):
        config_for(tmp_path, **{**TOPIC_ONLY, "source.topic": None})
