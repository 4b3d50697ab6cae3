"""Apache Kafka 4.4.0 as a single KRaft node (broker and controller in one JVM).

The storage is formatted once, with a cluster id kept next to it; `server.properties` is
written again on every start, so changing the ports of a formatted stack just works (with a
static `controller.quorum.voters` the controller's address is not part of the stored metadata).
"""

from __future__ import annotations

import base64
import logging
import secrets
import socket
import subprocess
import time
from typing import NoReturn

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from kafkatrade.config import Settings
from kafkatrade.kafka.clients import connection_config
from kafkatrade.stack import provision
from kafkatrade.stack.errors import StackError
from kafkatrade.stack.processes import Processes, port_in_use

log = logging.getLogger(__name__)

NAME = "kafka"
NODE_ID = 1
# Enough for a development broker; the bound keeps two stacks and the tests within a small VM.
JVM_HEAP = ("-Xms256m", "-Xmx512m")

_LOG4J2 = """\
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by kafkatrade.stack.kafka_broker on every start. -->
<Configuration status="warn">
  <Appenders>
    <File name="file" fileName="{log_file}" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <!-- The full configuration dump (2,500 lines a start); server.properties is on disk. -->
    <Logger name="org.apache.kafka.common.config.AbstractConfig" level="warn"/>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="org.apache.kafka.controller" level="info"/>
    <Logger name="state.change.logger" level="warn"/>
    <Root level="info"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
"""


def new_cluster_id() -> str:
    """Base64-url of 16 random bytes, as Kafka's `Uuid.randomUuid` makes it, and like it never
    starting with "-": the storage tool would take such an id for an option and fail."""
    while True:
        cluster_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaBroker:
    """The local broker: its files under `settings.home`, its jars under `settings.cache_dir`."""

    def __init__(self, settings: Settings, processes: Processes) -> None:
        # Absolute paths: the server runs in another working directory.
        self.settings = settings.replace(
            home=settings.home.resolve(), cache_dir=settings.cache_dir.resolve()
        )
        self.processes = processes
        home = self.settings.home
        self.folder = home / "kafka"
        self.data_dir = self.folder / "data"
        self.properties_file = self.folder / "server.properties"
        self.log4j_file = self.folder / "log4j2.xml"
        self.cluster_id_file = self.folder / "cluster-id"
        self.log_file = home / "logs" / "kafka.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.settings.kafka_port}"

    def pid(self) -> int | None:
        return self.processes.pid(NAME)

    def server_properties(self) -> str:
        """The broker's configuration: one node, both roles, loopback only, replication 1."""
        kafka_port, controller_port = self.settings.kafka_port, self.settings.kafka_controller_port
        values = {
            "process.roles": "broker,controller",
            "node.id": NODE_ID,
            "controller.quorum.voters": f"{NODE_ID}@127.0.0.1:{controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{kafka_port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{kafka_port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": self.data_dir,
            "num.partitions": 1,
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            # Consumers of the tests and of `stack run` join at once: no reason to wait 3 s.
            "group.initial.rebalance.delay.ms": 0,
            # Topics are made by `ensure_topics` with their partitions and configs, never by
            # accident through a typo in a producer.
            "auto.create.topics.enable": "false",
        }
        lines = ["# Written by kafkatrade.stack.kafka_broker on every start; edits are lost."]
        lines += [f"{key}={value}" for key, value in values.items()]
        return "\n".join(lines) + "\n"

    def _java(self, main_class: str, *args: str) -> list[str]:
        libs = provision.kafka_libs(self.settings.cache_dir)
        return [
            provision.require("java"),
            *JVM_HEAP,
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            "-cp",
            f"{libs}/*",
            main_class,
            *args,
        ]

    def _write_config(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text(self.server_properties())
        self.log4j_file.write_text(_LOG4J2.format(log_file=self.log_file))

    def _cluster_id(self) -> str:
        """The cluster id, made once (an id kept from a failed format is replaced)."""
        if self.cluster_id_file.is_file():
            kept = self.cluster_id_file.read_text().strip()
            if not kept.startswith("-"):
                return kept
        cluster_id = new_cluster_id()
        self.cluster_id_file.write_text(cluster_id + "\n")
        return cluster_id

    def _format_once(self) -> None:
        """Formats the log directory unless done before (then meta.properties exists)."""
        if (self.data_dir / "meta.properties").is_file():
            return
        log.info("formatting Kafka storage in %s", self.data_dir)
        argv = self._java(
            "kafka.tools.StorageTool",
            "format",
            "--ignore-formatted",
            "-t",
            self._cluster_id(),
            "-c",
            str(self.properties_file),
        )
        with self.log_file.open("ab") as out:
            result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            raise StackError(
                f"formatting Kafka storage in {self.data_dir} failed; see {self.log_file}"
            )

    def start(self) -> int:
        """Starts the broker unless it runs; returns its pid. Does not wait for it."""
        pid = self.pid()
        if pid is not None:
            return pid
        for port, flag in (
            (self.settings.kafka_port, "--kafka-port"),
            (self.settings.kafka_controller_port, "--kafka-controller-port"),
        ):
            if port_in_use(port):
                raise StackError(
                    f"port {port} is in use by another process: stop it or choose another {flag}"
                )
        self.settings.home.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self._format_once()
        log.info("starting Kafka broker on %s", self.address)
        return self.processes.start(
            NAME,
            self._java("kafka.Kafka", str(self.properties_file)),
            self.log_file,
            cwd=self.folder,
        )

    def wait_ready(self, timeout: float) -> None:
        """Waits until the broker answers a metadata request with itself as a live broker."""
        deadline = time.monotonic() + timeout
        # First a plain TCP connect: cheap, and between tries we notice a broker that died.
        while not _accepts("127.0.0.1", self.settings.kafka_port):
            self._check_alive()
            if time.monotonic() >= deadline:
                self._give_up(timeout)
            time.sleep(0.2)
        config = connection_config(local_settings(self.settings))
        while True:
            # Short bootstrap tries, to check between them that the broker still runs. (A
            # KafkaAdminClient that fails to bootstrap leaves its IO thread behind, so we make
            # one only once the port accepts connections: normally the first try succeeds.)
            try_ms = int(min(5.0, max(0.5, deadline - time.monotonic())) * 1000)
            try:
                with KafkaAdminClient(**config | {"bootstrap_timeout_ms": try_ms}) as admin:
                    while not admin.describe_cluster().get("brokers"):
                        self._check_alive()
                        if time.monotonic() >= deadline:
                            self._give_up(timeout)
                        time.sleep(0.2)
                    return
            except KafkaError:
                self._check_alive()
                if time.monotonic() >= deadline:
                    self._give_up(timeout)

    def _check_alive(self) -> None:
        if self.pid() is None:
            raise StackError(f"Kafka broker exited while starting; see {self.log_file}")

    def _give_up(self, timeout: float) -> NoReturn:
        # A broker that does not answer is of no use and would hold the ports: stop it, so
        # the next `up` starts afresh.
        self.processes.stop(NAME, timeout=10.0)
        raise StackError(
            f"Kafka broker on {self.address} did not answer within {timeout:g} s "
            f"and was stopped; see {self.log_file}"
        )

    def stop(self, timeout: float = 30.0) -> bool:
        return self.processes.stop(NAME, timeout)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def local_settings(settings: Settings) -> Settings:
    """Settings that reach the local broker: plaintext on loopback, whatever else is set."""
    return settings.replace(
        bootstrap_servers=None,
        security_protocol="PLAINTEXT",
        sasl_mechanism=None,
        sasl_username=None,
        sasl_password=None,
        ssl_cafile=None,
        ssl_certfile=None,
        ssl_keyfile=None,
    )
