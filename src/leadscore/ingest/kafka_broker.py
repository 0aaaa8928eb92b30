"""A one-node Apache Kafka broker (KRaft: broker and controller in one JVM) on this machine, from Maven Central's jars.

For local runs (`make kafka`, `make kafka-stop`), the tests (a broker on a free port per session) and the bench. The
broker's folder holds its server.properties, its log segments (data/), its output (broker.log) and its process id.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from leadscore.errors import LeadscoreError
from leadscore.spark import copy_with_dependencies, jars_dir

KAFKA = "org.apache.kafka:kafka_2.13:4.0.1"
LOGGING = "org.slf4j:slf4j-reload4j:1.7.36"  # the broker logs through log4j 1 (reload4j), to broker.log
DEFAULT_PORT = 9092
HEAP = "-Xmx512m"
READY_SECONDS = 90  # a cold JVM on a busy two-core machine opens the port in about 20 s


def broker_jars_dir() -> Path:
    return jars_dir().parent / f"kafka-{KAFKA.rsplit(':', 1)[1]}"


def fetch_broker_jars() -> list[Path]:
    return copy_with_dependencies([KAFKA, LOGGING], broker_jars_dir())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True)
class Broker:
    folder: Path
    port: int = DEFAULT_PORT
    controller_port: int = DEFAULT_PORT + 1

    @property
    def bootstrap(self) -> str:
        return f"localhost:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.folder / "broker.pid"

    def _properties(self) -> str:
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.folder / "data"),
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "num.partitions": "2",
            # The broker stamps each message as it appends it: the event order is the broker's, whatever clocks
            # the producers have.
            "log.message.timestamp.type": "LogAppendTime",
            "group.initial.rebalance.delay.ms": "0",
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _java(self, main: str, *args: str) -> list[str]:
        return ["java", HEAP, "-cp", f"{broker_jars_dir()}/*", main, *args]

    def running_pid(self) -> int | None:
        """The broker's process id, while the process in the pid file is alive."""
        if not self.pid_file.is_file():
            return None
        pid = int(self.pid_file.read_text())
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def start(self) -> Broker:
        """Starts the broker (its storage formatted on the first start) and returns once it answers."""
        if self.running_pid() is not None:
            raise LeadscoreError(f"a broker already runs from {self.folder} (pid {self.pid_file.read_text()})")
        if _port_open(self.port):
            raise LeadscoreError(f"port {self.port} is taken: another broker, or choose another port")
        fetch_broker_jars()
        self.folder.mkdir(parents=True, exist_ok=True)
        properties = self.folder / "server.properties"
        properties.write_text(self._properties())
        with open(self.folder / "broker.log", "ab") as log:  # the tools' and the broker's output, not the caller's
            if not (self.folder / "data" / "meta.properties").is_file():
                cluster = uuid.uuid4().hex[:22]  # any 22 characters; the broker's only check is that they are there
                format_storage = ("kafka.tools.StorageTool", "format", "-t", cluster, "-c", str(properties))
                subprocess.run(self._java(*format_storage, "--standalone"), check=True, stdout=log, stderr=log)
            process = subprocess.Popen(
                self._java("kafka.Kafka", str(properties)), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pid_file.write_text(str(process.pid))
        self._wait_until_ready(process)
        return self

    def _wait_until_ready(self, process: subprocess.Popen) -> None:
        """Until a client gets the cluster's metadata: the port opens before the broker has joined its quorum."""
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LeadscoreError(
                    f"the broker exited with status {process.returncode}: see {self.folder}/broker.log"
                )
            if _port_open(self.port):
                try:
                    KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000).close()
                    return
                except KafkaError:
                    pass
            time.sleep(0.2)
        self.stop()
        raise LeadscoreError(f"the broker did not answer on {self.bootstrap} within {READY_SECONDS} s")

    def stop(self, *, kill: bool = False) -> None:
        """Stops the broker (SIGTERM: a clean shutdown; `kill`: SIGKILL) and waits until its port is free."""
        pid = self.running_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + 60
        while self.running_pid() is not None and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):  # reaps it when this process started it
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        if self.running_pid() is not None:
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m leadscore.ingest.kafka_broker start|stop|fetch-jars`, called by `make kafka`, `make kafka-stop`
    and `make setup`."""
    parser = argparse.ArgumentParser(prog="python -m leadscore.ingest.kafka_broker")
    parser.add_argument("action", choices=("start", "stop", "fetch-jars"))
    parser.add_argument("--folder", default=".cache/kafka-broker", help="the broker's folder (default: %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="its port (default: %(default)s)")
    args = parser.parse_args(argv)
    broker = Broker(Path(args.folder).resolve(), args.port, args.port + 1)
    try:
        if args.action == "fetch-jars":
            fetch_broker_jars()
        elif args.action == "start":
            print(broker.start().bootstrap)
        else:
            broker.stop()
    except LeadscoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
