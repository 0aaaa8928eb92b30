"""One Kafka broker for the session's Kafka tests (a free port, a temporary folder), stopped at the end; each test
writes to topics of its own."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from kafka.admin import KafkaAdminClient, NewTopic

from leadscore.ingest.kafka_broker import Broker, free_port

PARTITIONS = 2  # more than one: the event order across partitions is exercised


@pytest.fixture(scope="session")
def broker(tmp_path_factory) -> Broker:
    port = free_port()
    controller_port = next(p for p in iter(free_port, None) if p != port)
    running = Broker(tmp_path_factory.mktemp("kafka-broker"), port, controller_port).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def new_topic(broker) -> Callable[[], str]:
    """Creates a topic of PARTITIONS partitions with a name of its own, and returns the name."""

    def create() -> str:
        name = f"leads-{uuid.uuid4().hex[:8]}"
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        admin.create_topics([NewTopic(name, PARTITIONS, 1)], wait_for_metadata=True)
        admin.close()
        return name

    return create
