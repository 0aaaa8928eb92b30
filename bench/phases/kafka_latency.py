"""Phase `kafka_latency`: steady-state latency of the real-time path reading a Kafka topic, from a lead's message
appended by the broker (its broker timestamp, silver's event_ts) to its score committed to gold.lead_scores (change
data feed), with 50 leads a second produced by `leadscore simulate`'s producer. On the same traffic, after it and
alone on the machine, the floor of this stack: the topic's messages, unparsed, appended to Delta on a near-zero
trigger. The phase starts its own broker (ingest/kafka_broker.py) in the lakehouse and stops it at the end.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from harness import SEED, child_argv, ratio, run_child, say, session

from phases.latency import FLOOR_TRIGGER_SECONDS, WARMUP_SECONDS, _latencies, _timed_append


def child_kafka_latency(args: dict) -> dict:
    """`seconds` bursts of 50 messages, one a second, into each leg's own topic: our two queries, then the floor."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from pyspark.sql import functions as F

    from leadscore import realtime
    from leadscore.ingest import messages
    from leadscore.ingest.kafka_broker import Broker, free_port
    from leadscore.ingest.sources import KafkaTopic
    from leadscore.synthetic.simulator import GENERATED, Topic, replay

    lakehouse = Path(args["lakehouse"])
    port = free_port()
    broker = Broker(lakehouse / "kafka_broker", port, next(p for p in iter(free_port, None) if p != port)).start()
    try:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        admin.create_topics([NewTopic(leg, 2, 1) for leg in ("ours", "floor")], wait_for_metadata=True)
        admin.close()
        kafka = {"source.kind": "kafka", "source.bootstrap_servers": broker.bootstrap, "source.topic": "ours"}
        spark, config = session(
            lakehouse, args["tracking_uri"], stream=True, **{"stream.trigger_seconds": args["trigger_seconds"]}, **kafka
        )
        seconds = int(args["seconds"])
        warmup = WARMUP_SECONDS if seconds >= 4 * WARMUP_SECONDS else 0  # a tiny run keeps every message

        def produce(topic: str) -> int:
            """The leg's traffic into its own topic; when steady state began, in epoch ms."""
            say(f"kafka_latency ({topic}): 50 leads a second for {seconds}s into {broker.bootstrap}")
            steady_ms = int(time.time() * 1000) + warmup * 1000
            replay(GENERATED, Topic(broker.bootstrap, topic), seconds, 1.0, rows=40 * seconds, seed=SEED)
            return steady_ms

        queries = realtime.start(spark, config, KafkaTopic(config.source))
        time.sleep(5)  # the queries' first (empty) batches
        steady_ms = produce("ours")
        realtime.drain(queries)
        for query in queries:
            query.stop()
        ours = _latencies(spark, config.table("lead_scores").location, steady_ms)

        floor_options = messages.topic_options(replace(config.source, topic="floor"))
        lines = messages.read_topic(spark, floor_options).select("value", F.col("timestamp").alias("event_ts"))
        sink = str(lakehouse / "kafka_floor")
        floor_query = _timed_append(
            spark, lines, "kafka_floor", sink, str(lakehouse / "_checkpoints" / "kafka_floor"), FLOOR_TRIGGER_SECONDS
        )
        steady_ms = produce("floor")
        floor_query.processAllAvailable()
        floor_query.stop()
        floor = _latencies(spark, sink, steady_ms)
    finally:
        broker.stop()
    return {"ours": ours, "floor": {**floor, "trigger_seconds": FLOOR_TRIGGER_SECONDS}, "warmup_seconds": warmup,
            "legs": "ours, then the floor: each alone, on the same traffic"}  # fmt: skip


def kafka_latency_keys(details: dict | None) -> dict:
    details = details or {}
    ours, floor = details.get("ours", {}), details.get("floor", {})
    return {
        "kafka_latency_p50_s": ours.get("p50_s"),
        "kafka_latency_p95_s": ours.get("p95_s"),
        "kafka_floor_latency_p50_s": floor.get("p50_s"),
        "kafka_latency_ratio_to_floor": ratio(ours.get("p50_s"), floor.get("p50_s")),
    }


def kafka_latency_phase(lake: Path, models: str, seconds: int, trigger_seconds: float, record) -> None:
    """The Kafka latency child on a new lakehouse `lake`, `seconds` bursts per leg, our queries on a
    `trigger_seconds` trigger."""
    argv = child_argv("kafka_latency", lakehouse=str(lake), tracking_uri=models, seconds=seconds,
                      trigger_seconds=trigger_seconds)  # fmt: skip
    d, w, p, rc = run_child(argv, "kafka_latency")
    record("kafka_latency", kafka_latency_keys(d), d, w, p, rc)
