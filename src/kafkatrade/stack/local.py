"""The local stack as one object: provision the tools, bring the servers up and down.

`up` is idempotent: a component that runs is left running, so a second `up` only checks that
everything answers and that the topics exist. `down` stops what `up` started and leaves no
process behind; the data under `settings.home` is kept.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from kafkatrade.config import Settings
from kafkatrade.kafka.topics import default_topics, ensure_topics
from kafkatrade.stack import provision
from kafkatrade.stack.kafka_broker import KafkaBroker, local_settings
from kafkatrade.stack.mongo_server import MongoServer
from kafkatrade.stack.processes import Processes

log = logging.getLogger(__name__)

# A cold JVM on a small, busy machine can take a while; this bounds the whole start.
START_TIMEOUT = 90.0


class Stack:
    """Kafka broker and MongoDB-protocol server on loopback, with their data in `settings.home`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.replace(
            home=settings.home.resolve(), cache_dir=settings.cache_dir.resolve()
        )
        self.processes = Processes(self.settings.home / "run")
        self.broker = KafkaBroker(self.settings, self.processes)
        self.mongo = MongoServer(self.settings, self.processes)

    def provision(self, *, helm: bool = False) -> dict[str, Path]:
        """Installs what is missing into `settings.cache_dir`; the paths of the tools.

        Helm is only for the Kubernetes path, so it is built only when asked for.
        """
        tools = {"kafka": provision.ensure_kafka(self.settings.cache_dir)}
        ferretdb = self.mongo.provision()
        if ferretdb is not None:
            tools["ferretdb"] = ferretdb
        if helm:
            tools["helm"] = provision.ensure_helm(self.settings.cache_dir)
        return tools

    def up(self, timeout: float = START_TIMEOUT) -> dict[str, dict]:
        """Provisions, starts what does not run, waits until both servers answer and makes
        the topics. Returns `status()`."""
        began = time.monotonic()
        self.provision()
        # Both start before we wait for either: FerretDB is ready long before the JVM.
        self.broker.start()
        self.mongo.start()
        self.broker.wait_ready(timeout)
        self.mongo.wait_ready(max(5.0, timeout - (time.monotonic() - began)))
        # The topics go to the broker we just started, whatever bootstrap servers are set.
        ensure_topics(local_settings(self.settings), default_topics(self.settings))
        log.info(
            "stack up in %.1f s: kafka=%s mongo=%s",
            time.monotonic() - began,
            self.broker.address,
            self.mongo.address,
        )
        return self.status()

    def down(self) -> None:
        """Stops the MongoDB-protocol server and the broker (the data stays)."""
        self.mongo.stop()
        self.broker.stop()

    def status(self) -> dict[str, dict]:
        """Each component: running?, address, pid, log file (and the kind of Mongo server)."""
        mongo_pid = self.mongo.pid()
        return {
            "kafka": {
                "running": self.broker.pid() is not None,
                "address": self.broker.address,
                "pid": self.broker.pid(),
                "log": str(self.broker.log_file),
            },
            "mongo": {
                "running": None if self.mongo.kind == "external" else mongo_pid is not None,
                "address": self.mongo.address,
                "pid": mongo_pid,
                "kind": self.mongo.kind,
                "log": None if self.mongo.kind == "external" else str(self.mongo.log_file),
            },
        }
