"""The fault matrix's harness: the pipeline as separate processes, a fault, and the measure.

`FaultRun` starts what `kafkatrade run` starts (the market replay server, downloaders, a bot
and a dbservice, each its own `kafkatrade` process with its log under the test's tmp dir),
lets a case break something mid-stream, waits until the pipeline settles, then compares what
reached `Orders` (read_committed, as a consumer of a transactional bot must read) and MongoDB
with `Expected`: the backtest engine's orders over the same data and the replayed quotes
themselves, both computed without any service.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests
from kafka import TopicPartition
from kafka.errors import KafkaError
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from kafkatrade import symbols as catalogue
from kafkatrade.backtest import QuoteSource, backtest
from kafkatrade.config import Settings
from kafkatrade.db import mongo
from kafkatrade.kafka import clients
from kafkatrade.marketdata import load
from kafkatrade.models import InvalidRecord, Order, RecordKind, parse_record
from tests.conftest import free_port
from tests.support import group_partitions, start_service

REPO = Path(__file__).resolve().parents[2]
STOCKS_FILE = REPO / "stocks.txt"

RETRY_IN = re.compile(r"retry_in=([0-9.]+)s")
OrderKey = tuple  # an order's fields as a tuple of (name, value): equal orders, equal keys


def order_key(order: Order) -> OrderKey:
    return tuple(order.to_dict().items())


@dataclass(frozen=True)
class Expected:
    """What an unbroken pipeline delivers, computed from the data alone."""

    symbols: list[str]
    # Per symbol, its orders in the order the engine makes them (one partition keeps it).
    orders: dict[str, list[OrderKey]]
    quotes: Counter  # (symbol, event time, price) -> 1

    @property
    def order_count(self) -> int:
        return sum(len(keys) for keys in self.orders.values())

    @property
    def quote_count(self) -> int:
        return sum(self.quotes.values())


def expected_of(settings: Settings) -> Expected:
    """The backtest's orders over the default data (the bot's engine, no broker) and the bars
    of the symbols of stocks.txt as quotes."""
    symbols = catalogue.read_symbols_file(STOCKS_FILE)
    data = load()
    evaluation = backtest(settings, QuoteSource("data"))
    orders: dict[str, list[OrderKey]] = defaultdict(list)
    for order in evaluation.orders:
        if order.symbol in symbols:
            orders[order.symbol].append(order_key(order))
    quotes = Counter((s, bar.timestamp, bar.close) for s in symbols for bar in data[s])
    return Expected(symbols, dict(orders), quotes)


def read_committed(settings: Settings, topic: str, timeout: float = 60.0) -> list:
    """Every committed record of `topic`, each partition in offset order.

    A group-less consumer with isolation_level=read_committed: the records of aborted
    transactions are skipped, and the end is the last stable offset.
    """
    consumer = clients.consumer(settings, group_id=None, isolation_level="read_committed")
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        records = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"reading {topic} did not reach its end {end} in {timeout} s")
            for tp, batch in consumer.poll(timeout_ms=500).items():
                records += [record for record in batch if record.offset < end[tp]]
        return records
    finally:
        consumer.close()


class Offsets:
    """End offsets of topics and committed offsets of groups, through one consumer and one
    admin client, both made again after an error (the broker may be down and back)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._consumer = None
        self._admin = None

    def _clients(self):
        if self._consumer is None:
            self._consumer = clients.consumer(self.settings, group_id=None)
            self._admin = clients.admin(self.settings)
        return self._consumer, self._admin

    def _reset(self) -> None:
        self.close()

    def end(self, topic: str) -> dict[int, int] | None:
        """Per partition, the end offset now; None while the broker does not answer."""
        try:
            consumer, _ = self._clients()
            numbers = consumer.partitions_for_topic(topic) or set()
            ends = consumer.end_offsets([TopicPartition(topic, p) for p in numbers])
            return {tp.partition: offset for tp, offset in ends.items()}
        except KafkaError:
            self._reset()
            return None

    def committed(self, group: str, topic: str) -> dict[int, int] | None:
        """Per partition, the group's committed offset (absent: nothing committed)."""
        try:
            _, admin = self._clients()
            offsets = admin.list_group_offsets({group: None}).get(group, {})
            return {tp.partition: m.offset for tp, m in offsets.items() if tp.topic == topic}
        except KafkaError:
            self._reset()
            return None

    def caught_up(self, group: str, topic: str, target: dict[int, int]) -> bool:
        """Whether the group has committed at least `target` on every partition."""
        done = self.committed(group, topic)
        return done is not None and all(done.get(p, 0) >= end for p, end in target.items())

    def beyond(self, group: str, topic: str, target: dict[int, int]) -> bool:
        """Whether the group has committed at least `target` everywhere and more somewhere:
        it has processed a record that arrived after `target` was taken."""
        done = self.committed(group, topic)
        return (
            done is not None
            and all(done.get(p, 0) >= end for p, end in target.items())
            and any(done.get(p, 0) > end for p, end in target.items())
        )

    def total(self, topic: str) -> int | None:
        ends = self.end(topic)
        return None if ends is None else sum(ends.values())

    def close(self) -> None:
        for client in (self._consumer, self._admin):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
        self._consumer = self._admin = None


@dataclass
class Outcome:
    """One case's measured figures, a row of the README's fault table."""

    case: str
    fault: str
    rate: float
    orders_expected: int = 0
    orders_on_topic: int = 0
    orders_lost: int = 0
    orders_duplicated: int = 0
    orders_out_of_order: int = 0
    orders_unexpected: int = 0
    quotes_expected: int = 0
    mongo_quotes: int = 0
    mongo_quotes_lost: int = 0
    mongo_quotes_duplicated: int = 0
    mongo_quotes_unexpected: int = 0
    mongo_orders: int = 0
    mongo_orders_lost: int = 0
    mongo_orders_unexpected: int = 0
    topic_quotes_duplicated: int = 0  # on `Quotes`: harmless downstream, told for the record
    fault_at_s: float | None = None  # since the replay started
    recovery_s: float | None = None  # fault's end -> the stage it hit is working again
    settled_s: float | None = None  # fault's end -> everything processed and stored
    settled: bool = False
    exited: dict[str, int] = field(default_factory=dict)  # service -> exit code, unasked
    extra: dict[str, object] = field(default_factory=dict)
    samples: dict[str, list] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """0 lost, 0 duplicated, same order per symbol, in `Orders` and in MongoDB."""
        return not any(
            (
                self.orders_lost,
                self.orders_duplicated,
                self.orders_out_of_order,
                self.orders_unexpected,
                self.mongo_quotes_lost,
                self.mongo_quotes_duplicated,
                self.mongo_quotes_unexpected,
                self.mongo_orders_lost,
                self.mongo_orders_unexpected,
            )
        )

    def row(self) -> dict:
        """The figures as one JSON-ready dict (without the samples)."""
        figures = asdict(self)
        figures.pop("samples")
        return json.loads(json.dumps(figures, default=str))

    def summary(self) -> str:
        return (
            f"orders: {self.orders_on_topic}/{self.orders_expected} on the topic, "
            f"lost {self.orders_lost}, duplicated {self.orders_duplicated}, "
            f"out of order {self.orders_out_of_order}, unexpected {self.orders_unexpected}; "
            f"MongoDB quotes {self.mongo_quotes}/{self.quotes_expected} (lost "
            f"{self.mongo_quotes_lost}, duplicated {self.mongo_quotes_duplicated}, unexpected "
            f"{self.mongo_quotes_unexpected}), orders {self.mongo_orders} (lost "
            f"{self.mongo_orders_lost}, unexpected {self.mongo_orders_unexpected}); "
            f"settled={self.settled} recovery_s={self.recovery_s} settled_s={self.settled_s} "
            f"exited={self.exited} extra={self.extra} samples={self.samples}"
        )


def compare_orders(expected: Expected, got: list[Order], outcome: Outcome) -> None:
    """Lost, duplicated, out of order (a first copy after a later expected order of its
    symbol) and unexpected orders of `got`, in topic order, against the expected ones."""
    by_symbol: dict[str, list[OrderKey]] = defaultdict(list)
    for order in got:
        by_symbol[order.symbol].append(order_key(order))
    want_all = {key for keys in expected.orders.values() for key in keys}
    got_all = Counter(key for keys in by_symbol.values() for key in keys)
    outcome.orders_expected = expected.order_count
    outcome.orders_on_topic = len(got)
    lost = want_all - set(got_all)
    outcome.orders_lost = len(lost)
    outcome.orders_duplicated = sum(n - 1 for n in got_all.values() if n > 1)
    unexpected = [key for key in got_all if key not in want_all]
    outcome.orders_unexpected = len(unexpected)
    late = []
    for symbol, keys in by_symbol.items():
        rank = {key: index for index, key in enumerate(expected.orders.get(symbol, []))}
        seen: set[OrderKey] = set()
        highest = -1
        for key in keys:
            if key in seen or key not in rank:
                continue
            seen.add(key)
            if rank[key] < highest:
                late.append(key)
            highest = max(highest, rank[key])
    outcome.orders_out_of_order = len(late)
    outcome.samples.update(
        orders_lost=[dict(k)["order_id"] for k in sorted(lost)[:3]],
        orders_duplicated=[dict(k)["order_id"] for k, n in got_all.items() if n > 1][:3],
        orders_out_of_order=[dict(k)["order_id"] for k in late[:3]],
        orders_unexpected=[dict(k) for k in unexpected[:2]],
    )


def compare_database(settings: Settings, expected: Expected, outcome: Outcome) -> None:
    """MongoDB against the replayed quotes (each once) and the expected orders (each once)."""
    db = mongo.connect(settings)
    try:
        stored = Counter(
            (d["symbol"], d["timestamp"], d["price"])
            for d in db[mongo.QUOTES].find({}, {"_id": 0, "symbol": 1, "timestamp": 1, "price": 1})
        )
        orders = Counter(order_key(o) for o in mongo.stored_orders(db))
    finally:
        db.client.close()
    outcome.quotes_expected = expected.quote_count
    outcome.mongo_quotes = sum(stored.values())
    lost = expected.quotes - stored
    outcome.mongo_quotes_lost = sum(lost.values())
    outcome.mongo_quotes_duplicated = sum(n - 1 for n in stored.values() if n > 1)
    outcome.mongo_quotes_unexpected = sum(1 for key in stored if key not in expected.quotes)
    want = {key for keys in expected.orders.values() for key in keys}
    outcome.mongo_orders = sum(orders.values())
    outcome.mongo_orders_lost = len(want - set(orders))
    outcome.mongo_orders_unexpected = sum(1 for key in orders if key not in want)
    outcome.samples["mongo_quotes_lost"] = [f"{s}@{t}" for s, t, _ in sorted(lost)[:3]]


def count_topic_quote_duplicates(settings: Settings, outcome: Outcome) -> None:
    records = read_committed(settings, settings.quotes_topic)
    published = Counter((q.symbol, q.timestamp) for q in valid("quotes", records))
    outcome.topic_quotes_duplicated = sum(n - 1 for n in published.values() if n > 1)


def valid(kind: RecordKind, records: list) -> Iterator:
    """The content of the records that keep to the contract of a `kind` topic; the others
    (the malformed corpus's) are the dead-letter topics' business."""
    for record in records:
        with contextlib.suppress(InvalidRecord):
            yield parse_record(kind, record.key, record.value)


class FaultRun:
    """The pipeline as separate processes around one fault; a context manager that stops them.

    `settings` carries the test's own topics, groups and database; the market replay server
    gets a free port of its own. `rate` is the replay's timeline steps per second (the default
    data has 1404 steps), `market_args` extra flags of `kafkatrade market` (the provider
    faults).
    """

    def __init__(
        self,
        settings: Settings,
        expected: Expected,
        log_dir: Path,
        *,
        case: str,
        fault: str,
        rate: float,
        downloaders: int = 1,
        market_args: tuple[str, ...] = (),
    ) -> None:
        self.settings = settings.replace(market_port=free_port(), provider_url=None)
        self.expected = expected
        self.log_dir = log_dir
        self.rate = rate
        self.downloaders = downloaders
        self.market_args = market_args
        self.processes: dict[str, subprocess.Popen] = {}
        self.killed: set[str] = set()
        self.offsets = Offsets(self.settings)
        self.outcome = Outcome(case=case, fault=fault, rate=rate)
        self.stream_started_at = 0.0
        self.exited: dict[str, int] = {}

    # Processes

    def start(self, name: str, *args: str) -> float:
        """Starts `kafkatrade <args>` as `name` (its log: <log_dir>/<name>.log, appended on a
        restart); the monotonic time it was started."""
        self.processes[name] = start_service(self.settings, self.log_dir, name, *args)
        self.killed.discard(name)
        return time.monotonic()

    def kill(self, name: str) -> float:
        """kill -9: no goodbye to the group, no flush, no commit. The time it died."""
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.killed.add(name)
        return time.monotonic()

    def kill_on_log(self, name: str, text: str, timeout: float = 5.0) -> bool:
        """kill -9 of `name` the moment its log shows a new line containing `text` (e.g. an
        order just sent, not yet committed); killed anyway after `timeout` s. Whether the
        line was seen."""
        path = self.log_dir / f"{name}.log"
        needle = text.encode()
        with path.open("rb") as log:
            log.seek(0, 2)
            deadline = time.monotonic() + timeout
            tail = b""
            while time.monotonic() < deadline:
                tail = tail[-len(needle) :] + log.read()
                if needle in tail:
                    self.kill(name)
                    return True
                time.sleep(0.001)
        self.kill(name)
        return False

    def log_tail(self, name: str, chars: int = 2500) -> str:
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else "(no log)"
        return f"--- {path} (tail) ---\n{text[-chars:]}"

    def log_tails(self, *names: str) -> str:
        return "\n".join(self.log_tail(name) for name in names or tuple(self.processes))

    def retry_delays(self, name: str, marker: str) -> list[float]:
        """The `retry_in=` delays the service logged on lines that contain `marker`."""
        path = self.log_dir / f"{name}.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        found = (RETRY_IN.search(line) for line in lines if marker in line)
        return [float(match.group(1)) for match in found if match]

    def log_count(self, name: str, text: str) -> int:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace").count(text) if path.exists() else 0

    def check_alive(self) -> None:
        """Notes each service that exited without being told to (a crash), once."""
        for name, process in self.processes.items():
            code = process.poll()
            if code is not None and name not in self.killed and name not in self.exited:
                self.exited[name] = code

    def stop(self) -> None:
        """SIGTERM to all, SIGKILL to those still there after 10 s; drops the test's
        database (its figures are measured by then)."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.offsets.close()
        with (
            contextlib.suppress(PyMongoError),
            MongoClient(self.settings.mongo_address, serverSelectionTimeoutMS=5000) as client,
        ):
            client.drop_database(self.settings.mongo_db)

    def __enter__(self) -> FaultRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # The stream

    def begin(self) -> None:
        """Services first, each in its group; then the symbols, until every downloader has
        taken its share; then the market, whose replay clock starts as it binds: the stream
        begins only when every downloader is ready for it."""
        s = self.settings
        self.start("dbservice-1", "dbservice", "--instance", "1")
        self.start("bot-1", "bot", "--instance", "1")
        for instance in range(1, self.downloaders + 1):
            self.start(f"downloader-{instance}", "downloader", "--instance", str(instance))
        self.wait_for(
            lambda: (
                self._members(s.bot_group) == 1
                and self._members(s.downloader_group) == self.downloaders
                and self._members(s.db_quotes_group) == 1
                and self._members(s.db_orders_group) == 1
            ),
            90,
            "every service in its consumer group",
        )
        catalogue.publish(s, self.expected.symbols)
        # A member the broker counts may still never see its partitions (kafka-python 3.0.x);
        # the downloader replaces such a consumer (kafka.membership) within ~15 s.
        self.wait_for(
            lambda: all(
                self.log_count(f"downloader-{i}", "symbols=")
                for i in range(1, self.downloaders + 1)
            ),
            60,
            "every downloader took its share of the symbols (its log says symbols=...)",
        )
        self.start(
            "market", "market", "--rate", str(self.rate), "--port", str(s.market_port),
            *self.market_args,
        )  # fmt: skip
        self.wait_for(self.market_status, 60, "the market replay server answers")
        self.stream_started_at = time.monotonic()

    def _members(self, group: str) -> int:
        members = group_partitions(self.settings, group)
        return 0 if members is None else sum(1 for parts in members.values() if parts)

    def market_status(self) -> dict | None:
        try:
            return requests.get(f"{self.settings.provider_base_url}/status", timeout=2).json()
        except (requests.RequestException, ValueError):
            return None

    def streaming(self) -> bool:
        """Whether the replay is still under way (the market has not served its last step)."""
        status = self.market_status()
        return status is not None and not status["finished"]

    def since_stream_started(self) -> float:
        return round(time.monotonic() - self.stream_started_at, 2)

    def wait_for(self, condition: Callable[[], object], timeout: float, what: str) -> object:
        """The first truthy value of `condition()` within `timeout` s, else an AssertionError
        with the tail of every service's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            value = condition()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"not within {timeout:g} s: {what}\n{self.log_tails()}")

    def measure(
        self, condition: Callable[[], object], since: float, timeout: float
    ) -> float | None:
        """Seconds from `since` until `condition()` holds; None if not within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if condition():
                return round(time.monotonic() - since, 2)
            time.sleep(0.2)
        return None

    def replayed(self, share: float) -> bool:
        """Whether the replay clock has walked `share` of its timeline."""
        status = self.market_status()
        return status is not None and status["step"] >= share * status["steps"]

    def wait_mid_stream(self, share: float, condition: Callable[[], object], what: str) -> None:
        """Waits until the replay has walked `share` of its timeline and `condition` holds,
        then checks that the replay has not ended: the fault must happen while quotes flow."""
        self.wait_for(lambda: self.replayed(share) and condition(), 90, what)
        assert self.streaming(), (
            f"the replay ended before the fault ({what}); lower the rate\n{self.log_tails()}"
        )
        self.outcome.fault_at_s = self.since_stream_started()

    def quotes_on_topic(self) -> int:
        return self.offsets.total(self.settings.quotes_topic) or 0

    def orders_on_topic(self) -> int:
        return self.offsets.total(self.settings.orders_topic) or 0

    def stored_quotes(self) -> int:
        try:
            with MongoClient(self.settings.mongo_address, serverSelectionTimeoutMS=2000) as c:
                return c[self.settings.mongo_db][mongo.QUOTES].count_documents({})
        except PyMongoError:
            return 0

    def groups_of(self) -> list[tuple[str, str]]:
        s = self.settings
        return [
            (s.bot_group, s.quotes_topic),
            (s.db_quotes_group, s.quotes_topic),
            (s.db_orders_group, s.orders_topic),
        ]

    def caught_up(self, groups: list[tuple[str, str]], targets: dict[str, dict]) -> bool:
        """Whether each (group, topic) committed at least the end offsets in `targets`."""
        return all(self.offsets.caught_up(g, t, targets[t]) for g, t in groups)

    def progressed(self, groups: list[tuple[str, str]], targets: dict[str, dict]) -> bool:
        """Whether each (group, topic) committed past the end offsets in `targets`: its
        consumer works again, on records that came after them."""
        return all(self.offsets.beyond(g, t, targets[t]) for g, t in groups)

    def ends(self, timeout: float = 60.0) -> dict[str, dict[int, int]]:
        """End offsets of Quotes and Orders now (waits while the broker does not answer)."""
        topics = (self.settings.quotes_topic, self.settings.orders_topic)
        return self.wait_for(
            lambda: (e := {t: self.offsets.end(t) for t in topics}) and all(e.values()) and e,
            timeout,
            "end offsets of Quotes and Orders",
        )

    def settle(self, since: float, timeout: float = 120.0, quiet: float = 8.0) -> None:
        """Waits until the replay has ended and every group has committed the end of its
        topic, with MongoDB holding every expected quote, or nothing moved for `quiet`
        seconds (then something is lost). Sets `settled` and `settled_s` (from `since`)."""
        deadline = time.monotonic() + timeout
        last, moved = None, time.monotonic()
        while time.monotonic() < deadline:
            self.check_alive()
            state = (self.quotes_on_topic(), self.orders_on_topic(), self.stored_quotes())
            if state != last:
                last, moved = state, time.monotonic()
            complete = state[2] >= self.expected.quote_count
            if (
                (complete or time.monotonic() - moved > quiet)
                and not self.streaming()
                and self.caught_up(self.groups_of(), self.ends(timeout=10))
            ):
                self.outcome.settled = complete
                self.outcome.settled_s = round(time.monotonic() - since, 2)
                return
            time.sleep(0.5)

    def finish(self, since: float) -> Outcome:
        """Settles, then measures `Orders` and MongoDB against the expected ones."""
        self.settle(since)
        outcome = self.outcome
        records = read_committed(self.settings, self.settings.orders_topic)
        compare_orders(self.expected, list(valid("orders", records)), outcome)
        compare_database(self.settings, self.expected, outcome)
        count_topic_quote_duplicates(self.settings, outcome)
        self.check_alive()
        outcome.exited = dict(self.exited)
        return outcome

    def failure(self, *logs: str) -> str:
        """The assertion message: the figures and the tails of the relevant logs."""
        return f"{self.outcome.case}: {self.outcome.summary()}\n{self.log_tails(*logs)}"


def write_outcome(outcome: Outcome, path: Path) -> str:
    """Appends the outcome as one JSON line to `path`; the line."""
    line = json.dumps(outcome.row(), sort_keys=True)
    with path.open("a") as out:
        out.write(line + "\n")
    return line
