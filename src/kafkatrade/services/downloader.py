"""QuotesDownloader: polls the quote provider for its share of `Stocks` and publishes changes.

Its share is the current content of the `Stocks` partitions the group assigns to it, read
from the beginning on every assignment; it stays in the group for its whole life, so a new
replica, a new symbol or a removed one changes its work within seconds.
"""

from __future__ import annotations

import logging
import threading
import time

from kafka import KafkaProducer

from kafkatrade import metrics
from kafkatrade.config import Settings
from kafkatrade.kafka import clients
from kafkatrade.kafka.quotes import last_quote_times
from kafkatrade.kafka.rebalance import RewindOnAssign
from kafkatrade.models import Quote, epoch_ms
from kafkatrade.providers import Provider, ProviderError
from kafkatrade.providers.iex import IexProvider
from kafkatrade.services.health import Health
from kafkatrade.services.runtime import Backoff
from kafkatrade.symbols import SymbolTable

log = logging.getLogger(__name__)


def fetch_new_quotes(provider: Provider, cursors: dict[str, int]) -> list[Quote]:
    """Every quote newer than its symbol's cursor, oldest first per symbol.

    With a gap-free bars endpoint nothing is skipped however slow the poll; otherwise the
    latest quote is taken, and only when it changed.
    """
    if provider.has_bars:
        found = provider.bars_since(cursors)
        candidates = [quote for symbol in cursors for quote in found.get(symbol, [])]
    else:
        candidates = [q for q in provider.quotes(list(cursors)).values() if q is not None]
    fresh = [q for q in candidates if epoch_ms(q.timestamp) > cursors[q.symbol]]
    return sorted(fresh, key=lambda q: (q.symbol, q.timestamp))


def publish_quotes(
    producer: KafkaProducer, topic: str, quotes: list[Quote], cursors: dict[str, int]
) -> None:
    """Sends the quotes keyed by symbol, stamped with their event time (and the time they were
    received, in a header), and moves the cursors."""
    received = metrics.received_header()
    for quote in quotes:
        producer.send(
            topic,
            key=quote.symbol,
            value=quote.to_json(),
            timestamp_ms=epoch_ms(quote.timestamp),
            headers=[received],
        )
    producer.flush()
    for quote in quotes:
        cursors[quote.symbol] = max(cursors[quote.symbol], epoch_ms(quote.timestamp))


def run(settings: Settings, instance: str, stop: threading.Event, health: Health) -> None:
    provider = IexProvider(
        settings.provider_base_url, settings.provider_api_key, timeout=settings.http_timeout
    )
    consumer = clients.consumer(
        settings, settings.downloader_group, client_id=f"downloader-{instance}"
    )
    listener = RewindOnAssign(consumer)
    consumer.subscribe([settings.stocks_topic], listener=listener)
    producer = clients.producer(settings, client_id=f"downloader-{instance}")
    table = SymbolTable()
    cursors: dict[str, int] = {}
    backoff = Backoff()
    next_poll = 0.0
    metrics.start_service("downloader", [settings.stocks_topic], [settings.quotes_topic])
    log.info("started provider=%s group=%s", provider.base_url, settings.downloader_group)
    try:
        while not stop.is_set():
            health.beat()
            records = consumer.poll(timeout_ms=200)
            health.mark_ready()
            metrics.count_consumed("downloader", records)
            metrics.set_assigned("downloader", consumer, [settings.stocks_topic])
            for change, partitions in listener.changes():
                for tp in partitions:
                    table.drop(tp.partition)
                log.info("partitions %s %s", change, sorted(tp.partition for tp in partitions))
            for tp, batch in records.items():
                for record in batch:
                    table.apply(tp.partition, record.key, record.value)
            owned = table.symbols()
            if owned != set(cursors):
                gained = owned - set(cursors)
                for symbol in set(cursors) - owned:
                    del cursors[symbol]
                if gained:
                    cursors.update(last_quote_times(settings, gained))
                log.info("symbols=%s", ",".join(sorted(owned)) or "-")
            metrics.SYMBOLS_ASSIGNED.labels(instance).set(len(cursors))
            metrics.set_quote_ages(cursors)
            if not cursors or time.monotonic() < next_poll:
                continue
            started = time.perf_counter()
            try:
                quotes = fetch_new_quotes(provider, cursors)
            except ProviderError as error:
                delay = backoff.next_delay()
                log.warning("provider error=%r retry_in=%.1fs", str(error), delay)
                next_poll = time.monotonic() + delay
                continue
            backoff.reset()
            publish_quotes(producer, settings.quotes_topic, quotes, cursors)
            metrics.MESSAGES_PRODUCED.labels("downloader", settings.quotes_topic).inc(len(quotes))
            metrics.QUOTES_DOWNLOADED.labels(provider.name).inc(len(quotes))
            metrics.PROCESSING.labels("downloader").observe(time.perf_counter() - started)
            if quotes:
                log.info("published quotes=%d", len(quotes))
            next_poll = time.monotonic() + settings.poll_interval
    finally:
        producer.close()
        consumer.close()
        log.info("stopped")
