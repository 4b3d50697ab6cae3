"""The main job: the whole pipeline, end to end, on real market data, as separate processes.

It starts (when needed) the local stack, the market replay server, 2 downloaders, 2 bots and
1 dbservice; publishes the symbols; waits until the replay has ended, the bots and the
dbservice have caught up and MongoDB holds every quote; prints the figures and stops what it
started.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from pymongo.database import Database

from kafkatrade import symbols as catalogue
from kafkatrade.config import Settings
from kafkatrade.db import mongo
from kafkatrade.kafka.groups import delete_groups
from kafkatrade.kafka.history import count_records
from kafkatrade.kafka.lag import LagReader
from kafkatrade.kafka.topics import default_topics, delete_topics, ensure_topics
from kafkatrade.market.faults import Faults
from kafkatrade.marketdata import MarketData
from kafkatrade.report import report_of_database
from kafkatrade.stack import Stack
from kafkatrade.summary import RunSummary, summarize

log = logging.getLogger(__name__)


class PipelineError(RuntimeError):
    """The run could not finish: a service died or the data did not arrive in time."""


# The commands that serve /metrics, and the Prometheus file_sd list of their endpoints.
METRICS_COMMANDS = ("downloader", "bot", "dbservice")
TARGETS_FILE = "prometheus-targets.json"


@dataclass
class Services:
    """Child processes of the run, each with its own log file.

    Each service gets its own metrics port: `settings.metrics_port` + 0, 1, 2... when set,
    else a free port; `<home>/prometheus-targets.json` lists them for Prometheus' file_sd
    (labels `namespace="local"` and `pod=<name>`, as a PodMonitor would give).
    """

    settings: Settings
    log_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = os.environ | self.settings.to_env()
        if args[:1] and args[0] in METRICS_COMMANDS:
            port = self._metrics_port()
            self.metrics_ports[name] = port
            env["KAFKATRADE_METRICS_PORT"] = str(port)
            self._write_targets()
        with open(self.log_dir / f"{name}.log", "ab") as output:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "kafkatrade", *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; we stop them in order
            )

    def _metrics_port(self) -> int:
        if self.settings.metrics_port:
            return self.settings.metrics_port + len(self.metrics_ports)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def _write_targets(self) -> None:
        targets = [
            {"targets": [f"127.0.0.1:{port}"], "labels": {"namespace": "local", "pod": name}}
            for name, port in self.metrics_ports.items()
        ]
        path = self.settings.home / TARGETS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_suffix(".tmp")
        staged.write_text(json.dumps(targets, indent=2) + "\n")
        staged.replace(path)  # Prometheus never reads half a file

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise PipelineError(
                    f"{name} exited with code {process.returncode}; its log "
                    f"({self.log_dir / f'{name}.log'}) ends with:\n{tail}"
                )

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to all, then SIGKILL to those still there after `timeout`."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        if self.metrics_ports:
            self.metrics_ports.clear()
            self._write_targets()


@dataclass
class RunOptions:
    data: MarketData
    data_path: Path | None
    symbols: list[str]
    rate: float = 100.0
    downloaders: int = 2
    bots: int = 2
    dbservices: int = 1
    timeout: float = 900.0
    follow: bool = False
    summary_path: Path | None = Path("run-summary.json")
    # Folder of the report written at the end (report.md and charts); None: <home>/report.
    report_dir: Path | None = None
    # Faults the market replay server injects (`kafkatrade market --faults`); None: none.
    faults: Faults | None = None


def _wait_for_market(url: str, services: Services, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        services.check_alive()
        try:
            requests.get(f"{url}/status", timeout=2).raise_for_status()
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise PipelineError(f"the market replay server at {url} did not start within {timeout:g} s")


def _reset(settings: Settings) -> None:
    """A fresh run: empty topics, consumer groups without offsets, an empty database."""
    specs = default_topics(settings)
    delete_topics(settings, [spec.name for spec in specs])
    delete_groups(
        settings,
        [
            settings.downloader_group,
            settings.bot_group,
            settings.db_quotes_group,
            settings.db_orders_group,
        ],
    )
    ensure_topics(settings, specs)
    db = mongo.connect(settings)
    db.client.drop_database(settings.mongo_db)
    mongo.ensure_indexes(db)
    db.client.close()


def _progress(
    settings: Settings, lag: LagReader, db: Database, expected: int, started: float
) -> tuple[bool, str]:
    """Whether everything arrived, and a one-line progress report."""
    market = requests.get(f"{settings.provider_base_url}/status", timeout=5).json()
    stored_quotes = db[mongo.QUOTES].count_documents({})
    stored_orders = db[mongo.ORDERS].count_documents({})
    bot_lags = lag.group_lag(settings.bot_group, settings.quotes_topic)
    orders_lags = lag.group_lag(settings.db_orders_group, settings.orders_topic)
    if min([0, *bot_lags.values(), *orders_lags.values()]) < 0:
        raise PipelineError(
            "a consumer group has committed offsets beyond the end of its topic "
            f"({settings.bot_group}: {bot_lags}, {settings.db_orders_group}: {orders_lags}): "
            "they are from an earlier topic of the same name"
        )
    bot_lag, orders_lag = sum(bot_lags.values()), sum(orders_lags.values())
    done = market["finished"] and stored_quotes >= expected and bot_lag == 0 and orders_lag == 0
    line = (
        f"[{time.monotonic() - started:5.0f}s] replay {str(market['clock'])[:10]} "
        f"({market['step']}/{market['steps']}) | quotes stored {stored_quotes}/{expected} | "
        f"orders stored {stored_orders} | bot lag {bot_lag}"
    )
    return done, line


def _wait_until_done(
    settings: Settings,
    options: RunOptions,
    services: Services,
    lag: LagReader,
    db: Database,
    expected: int,
    started: float,
    say: Callable[[str], None],
) -> None:
    deadline = started + options.timeout
    last_line = 0.0
    while True:
        services.check_alive()
        done, line = _progress(settings, lag, db, expected, started)
        if time.monotonic() - last_line >= 5 or done:
            say(line)
            last_line = time.monotonic()
        if done:
            return
        if time.monotonic() > deadline:
            raise PipelineError(f"not finished after {options.timeout:g} s: {line}")
        time.sleep(1)


def run(settings: Settings, options: RunOptions, say: Callable[[str], None] = print) -> RunSummary:
    """Runs the pipeline to the end of the data and returns its figures."""
    stack = Stack(settings)
    started_stack = False
    services = Services(settings, settings.home / "logs")
    try:
        if settings.bootstrap_servers is None or settings.mongo_uri is None:
            # Set before up(): a start interrupted half-way is stopped too.
            started_stack = not stack.status()["kafka"]["running"]
            say(
                "starting the local stack (Kafka, MongoDB-protocol server)..."
                if started_stack
                else "using the local stack already running (it stays up afterwards)"
            )
            stack.up()
        _reset(settings)
        market_args = ["market", "--rate", str(options.rate), "--port", str(settings.market_port)]
        if options.data_path is not None:
            market_args += ["--data", str(options.data_path)]
        if options.faults is not None:
            market_args += options.faults.arguments()
        services.start("market", *market_args)
        _wait_for_market(settings.provider_base_url, services)
        for kind, count in (
            ("dbservice", options.dbservices),
            ("bot", options.bots),
            ("downloader", options.downloaders),
        ):
            for instance in range(1, count + 1):
                services.start(f"{kind}-{instance}", kind, "--instance", str(instance))
        placement = catalogue.publish(settings, options.symbols)
        say(
            f"published {len(placement)} symbols to {settings.stocks_topic}; services' logs in "
            f"{services.log_dir}"
        )
        expected = sum(len(options.data.get(s, ())) for s in options.symbols)
        started = time.monotonic()
        with LagReader(settings) as lag, mongo.connect(settings).client as client:
            db = client[settings.mongo_db]
            _wait_until_done(settings, options, services, lag, db, expected, started, say)
            elapsed = time.monotonic() - started
            summary = summarize(db, options.symbols)
            # Counted, not taken from offsets: transaction markers take offsets too.
            summary.kafka = {
                "quotes": count_records(settings, settings.quotes_topic),
                "orders": count_records(settings, settings.orders_topic),
            }
            report_dir = options.report_dir or settings.home / "report"
            report = report_of_database(settings, db, report_dir)
        summary.elapsed_seconds = round(elapsed, 2)
        summary.quotes_per_second = round(summary.totals["quotes"] / elapsed, 1)
        if options.summary_path is not None:
            summary.write(options.summary_path)
        say(f"report of the run in {report.path} ({len(report.charts)} charts)")
        if options.follow:
            say("following: the stack and services stay up until Ctrl-C")
            while True:
                services.check_alive()
                time.sleep(1)
        return summary
    finally:
        services.stop()
        if started_stack:
            stack.down()
