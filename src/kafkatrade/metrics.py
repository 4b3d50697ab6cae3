"""The Prometheus metrics of the services, defined once, in the default registry.

Services update them with one-line calls; `services/health.py` serves the registry on
`/metrics`. Names follow Prometheus' conventions (base units, `_total` counters), and the lag
gauge uses kafka_exporter's label names (`consumergroup`, `topic`, `partition`), so Strimzi's
panels and habits carry over.

Two definitions worth knowing:

- `kafkatrade_quote_to_order_seconds` runs from the moment the downloader *received* the quote
  from the provider (it stamps the record with a `received_ms` header) to the moment the order
  is acknowledged by the broker. The quote's event time (the record timestamp) is not used:
  in a replay it is years old, and with a live feed the provider's own delay is already
  visible in `kafkatrade_quote_age_seconds` and `kafkatrade_provider_request_seconds`. A quote
  without the header (written by another producer) is not observed.
- `kafkatrade_messages_consumed_total` counts records a service processes as new work. A bot
  given a partition re-reads it from the beginning to rebuild its windows; the records before
  the group's committed offset are not counted again, so the bots' sum equals the quotes on
  the topic.

`kafkatrade_dlq_messages_total{topic,reason}` counts the records a service refused and sent to
the dead-letter topic of `topic` (`kafka/dlq.py`), by reason code (`models.Reason`). Every
reason's series exists from the start at 0, so the dead-letter alert sees the first one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from kafkatrade import __version__
from kafkatrade.config import Settings
from kafkatrade.models import Reason

log = logging.getLogger(__name__)

# `_created` series double the series count and no panel or alert uses them.
disable_created_metrics()

# Kafka header with the wall-clock time (epoch ms) at which the downloader got the quote.
RECEIVED_HEADER = "received_ms"

# Seconds from a few milliseconds (a bot keeping up) to minutes (a bot catching up).
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

MESSAGES_CONSUMED = Counter(
    "kafkatrade_messages_consumed_total",
    "Records a service took from a Kafka topic as new work.",
    ["service", "topic"],
)
MESSAGES_PRODUCED = Counter(
    "kafkatrade_messages_produced_total",
    "Records a service wrote to a Kafka topic.",
    ["service", "topic"],
)
CONSUMER_LAG = Gauge(
    "kafkatrade_consumer_lag",
    "End offset minus the consumer group's committed offset, per partition (as kafka_exporter's "
    "kafka_consumergroup_lag).",
    ["consumergroup", "topic", "partition"],
)
QUOTE_TO_ORDER = Histogram(
    "kafkatrade_quote_to_order_seconds",
    "Seconds from the downloader receiving a quote to the broker acknowledging an order it made.",
    buckets=_LATENCY_BUCKETS,
)
PROCESSING = Histogram(
    "kafkatrade_processing_seconds",
    "Wall time a service spent on one batch (a poll's records, or a provider poll and publish).",
    ["service"],
    buckets=_LATENCY_BUCKETS,
)
ORDERS = Counter("kafkatrade_orders_total", "Orders the bots sent to Kafka.", ["strategy", "side"])
QUOTES_DOWNLOADED = Counter(
    "kafkatrade_quotes_downloaded_total",
    "New quotes the downloaders got from a quote provider and published.",
    ["provider"],
)
PROVIDER_REQUESTS = Counter(
    "kafkatrade_provider_requests_total",
    "HTTP requests to a quote provider; status is the HTTP code, invalid_answer for a 200 "
    "whose body is garbage, or timeout, connection_error or request_error when no whole "
    "answer came.",
    ["provider", "status"],
)
PROVIDER_REQUEST_SECONDS = Histogram(
    "kafkatrade_provider_request_seconds",
    "Seconds an HTTP request to a quote provider took, answered or not.",
    ["provider"],
    buckets=_LATENCY_BUCKETS,
)
DB_WRITE_SECONDS = Histogram(
    "kafkatrade_db_write_seconds",
    "Seconds a bulk write of a batch to MongoDB took.",
    ["collection"],
    buckets=_LATENCY_BUCKETS,
)
DB_DOCUMENTS_WRITTEN = Counter(
    "kafkatrade_db_documents_written_total",
    "Documents written to a MongoDB collection (a replayed record overwrites itself).",
    ["collection"],
)
DLQ_MESSAGES = Counter(
    "kafkatrade_dlq_messages_total",
    "Records refused and sent to the dead-letter topic of the topic they came from, by reason.",
    ["topic", "reason"],
)
ASSIGNED_PARTITIONS = Gauge(
    "kafkatrade_assigned_partitions",
    "Partitions of a topic assigned to this service's consumer.",
    ["service", "topic"],
)
SYMBOLS_ASSIGNED = Gauge(
    "kafkatrade_symbols_assigned", "Symbols a downloader instance polls.", ["instance"]
)
QUOTE_AGE = Gauge(
    "kafkatrade_quote_age_seconds",
    "Seconds since the event time of the symbol's last quote (for a replay: since the "
    "replayed date).",
    ["symbol"],
)
BUILD_INFO = Gauge("kafkatrade_build_info", "Always 1; the version of kafkatrade.", ["version"])
BUILD_INFO.labels(version=__version__).set(1)


def start_service(service: str, consumed: Iterable[str] = (), produced: Iterable[str] = ()):
    """Creates the service's series at 0, so rates and alerts see them before the first event."""
    for topic in consumed:
        MESSAGES_CONSUMED.labels(service, topic)
        ASSIGNED_PARTITIONS.labels(service, topic)
        for reason in Reason:
            DLQ_MESSAGES.labels(topic, reason)
    for topic in produced:
        MESSAGES_PRODUCED.labels(service, topic)


def count_consumed(service: str, records: dict) -> None:
    """Adds a poll's records (TopicPartition -> records) to the consumed counter."""
    for tp, batch in records.items():
        MESSAGES_CONSUMED.labels(service, tp.topic).inc(len(batch))


def set_assigned(service: str, consumer, topics: Iterable[str]) -> None:
    """`kafkatrade_assigned_partitions` of the consumer's current assignment."""
    assignment = consumer.assignment()
    for topic in topics:
        ASSIGNED_PARTITIONS.labels(service, topic).set(
            sum(1 for tp in assignment if tp.topic == topic)
        )


def observe_quote_to_order(received: Iterable[float | None]) -> None:
    """Orders just acknowledged by the broker, given their quotes' receive times (epoch s)."""
    now = time.time()
    for at in received:
        if at is not None:
            QUOTE_TO_ORDER.observe(max(0.0, now - at))


_aged_symbols: set[str] = set()


def set_quote_ages(last_quote_ms: dict[str, int]) -> None:
    """`kafkatrade_quote_age_seconds` of exactly these symbols, given the epoch ms of their
    last quote (0: none yet, no series); the series of symbols no longer given are removed."""
    now = time.time()
    current = {symbol for symbol, last in last_quote_ms.items() if last > 0}
    for symbol in current:
        QUOTE_AGE.labels(symbol).set(now - last_quote_ms[symbol] / 1000)
    for symbol in _aged_symbols - current:
        QUOTE_AGE.remove(symbol)
    _aged_symbols.clear()
    _aged_symbols.update(current)


def received_header() -> tuple[str, bytes]:
    """The `received_ms` header for a quote got now."""
    return RECEIVED_HEADER, str(int(time.time() * 1000)).encode()


def received_at(headers: Iterable[tuple[str, bytes]] | None) -> float | None:
    """Epoch seconds of a quote record's `received_ms` header, None without one."""
    for key, value in headers or ():
        if key == RECEIVED_HEADER:
            try:
                return int(value) / 1000
            except ValueError:
                return None
    return None


def watch_lag(
    settings: Settings,
    groups: Iterable[tuple[str, str]],
    stop: threading.Event,
    interval: float = 5.0,
) -> threading.Thread:
    """A daemon thread that refreshes `kafkatrade_consumer_lag` of `groups` ((group, topic)
    pairs) every `interval` seconds (default 5) until `stop` is set; errors are logged and
    retried. The downloaders' group is never given: it commits nothing by design (a downloader
    re-reads its `Stocks` partitions on every assignment), so its lag would only be the topic's
    size."""
    groups = list(groups)

    def refresh() -> None:
        from kafkatrade.kafka.lag import LagReader

        reader: LagReader | None = None
        while not stop.is_set():
            try:
                if reader is None:
                    reader = LagReader(settings)
                for group, topic in groups:
                    for partition, lag in reader.group_lag(group, topic).items():
                        CONSUMER_LAG.labels(group, topic, str(partition)).set(lag)
            except Exception as error:  # a broker hiccup must not end the refreshes
                log.warning("lag refresh failed error=%r", str(error))
                if reader is not None:
                    reader.close()
                    reader = None
            stop.wait(interval)
        if reader is not None:
            reader.close()

    thread = threading.Thread(target=refresh, name="consumer-lag", daemon=True)
    thread.start()
    return thread
