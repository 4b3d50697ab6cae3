"""The MongoDB-protocol server of the local stack: a given URI, a local `mongod`, or FerretDB.

FerretDB (with its SQLite backend) is the default because it is a single Go binary built from
the module proxy; pymongo talks to it over TCP exactly as to MongoDB. A real `mongod` on PATH
is preferred when there is one, and a `--mongo-uri` means the server is someone else's.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from kafkatrade.config import Settings
from kafkatrade.stack import provision
from kafkatrade.stack.errors import StackError
from kafkatrade.stack.processes import Processes, port_in_use

log = logging.getLogger(__name__)

NAME = "mongo"


class MongoServer:
    """Which server serves `settings.mongo_address`, and how to start and stop it."""

    def __init__(self, settings: Settings, processes: Processes) -> None:
        # Absolute paths: the server runs in another working directory.
        self.settings = settings.replace(
            home=settings.home.resolve(), cache_dir=settings.cache_dir.resolve()
        )
        self.processes = processes
        self.kind = _kind(settings)
        home = self.settings.home
        self.mongo_dir = home / "mongo"
        self.ferretdb_dir = home / "ferretdb"
        self.log_file = home / "logs" / f"{self.kind}.log"

    @property
    def address(self) -> str:
        """Where the server listens, without any credentials of the URI."""
        if self.kind == "external":
            parts = urlsplit(self.settings.mongo_uri or "")
            return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        return f"127.0.0.1:{self.settings.mongo_port}"

    def pid(self) -> int | None:
        return None if self.kind == "external" else self.processes.pid(NAME)

    def provision(self) -> Path | None:
        """Builds FerretDB if that is the server to run; the path of its binary, else None."""
        if self.kind == "ferretdb":
            return provision.ensure_ferretdb(self.settings.cache_dir)
        return None

    def _argv(self) -> list[str]:
        port = self.settings.mongo_port
        if self.kind == "mongod":
            self.mongo_dir.mkdir(parents=True, exist_ok=True)
            return [
                "mongod", "--dbpath", str(self.mongo_dir), "--port", str(port),
                "--bind_ip", "127.0.0.1",
            ]  # fmt: skip
        self.ferretdb_dir.mkdir(parents=True, exist_ok=True)
        return [
            str(provision.ensure_ferretdb(self.settings.cache_dir)),
            "--handler=sqlite",
            f"--sqlite-url=file:{self.ferretdb_dir}/",
            f"--state-dir={self.ferretdb_dir}",
            f"--listen-addr=127.0.0.1:{port}",
            # "-" turns the debug/metrics HTTP listener off: its fixed default port
            # (127.0.0.1:8088) would collide when two stacks run side by side.
            "--debug-addr=-",
            "--telemetry=disable",
            "--log-level=warn",
        ]

    def start(self) -> int | None:
        """Starts the server unless it runs or is external; returns its pid (None if external).
        Does not wait for it."""
        if self.kind == "external":
            return None
        pid = self.pid()
        if pid is not None:
            return pid
        if port_in_use(self.settings.mongo_port):
            raise StackError(
                f"port {self.settings.mongo_port} is in use by another process: "
                "stop it or choose another --mongo-port"
            )
        log.info("starting %s on %s", self.kind, self.address)
        return self.processes.start(NAME, self._argv(), self.log_file, cwd=self.log_file.parent)

    def wait_ready(self, timeout: float) -> None:
        """Waits until the server answers `ping`."""
        deadline = time.monotonic() + timeout
        with MongoClient(
            self.settings.mongo_address, serverSelectionTimeoutMS=500, connectTimeoutMS=500
        ) as client:
            while True:
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    pass
                if self.kind != "external" and self.pid() is None:
                    raise StackError(f"{self.kind} exited while starting; see {self.log_file}")
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.1)
        if self.kind == "external":
            raise StackError(
                f"MongoDB at {self.address} did not answer within {timeout:g} s; "
                "check KAFKATRADE_MONGO_URI"
            )
        self.processes.stop(NAME, timeout=5.0)
        raise StackError(
            f"{self.kind} on {self.address} did not answer within {timeout:g} s "
            f"and was stopped; see {self.log_file}"
        )

    def stop(self, timeout: float = 10.0) -> bool:
        if self.kind == "external":
            return False
        return self.processes.stop(NAME, timeout)


def _kind(settings: Settings) -> str:
    """ "external" (a URI was given), "mongod" (on PATH) or "ferretdb"."""
    if settings.mongo_uri:
        return "external"
    if shutil.which("mongod"):
        return "mongod"
    return "ferretdb"
