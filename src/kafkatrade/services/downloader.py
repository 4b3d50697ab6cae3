"""QuotesDownloader: polls the quote provider for its share of `Stocks` and publishes changes.

Its share is the current content of the `Stocks` partitions the group assigns to it, read
from the beginning on every assignment; it stays in the group for its whole life, so a new
replica, a new symbol or a removed one changes its work within seconds. A `Stocks` record
that is not a valid symbol goes to `Stocks.DLQ` (`Catalogue`).

Faults of the provider (no answer, HTTP errors, garbage) end a poll in a ProviderError: the
cursors stay where they were, and the poll is retried after an exponential backoff with full
jitter, or after the provider's Retry-After when that is longer. Quotes go out through an
idempotent producer, so a retried send never writes a quote twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from kafkatrade import metrics
from kafkatrade.config import Settings
from kafkatrade.kafka import clients, dlq
from kafkatrade.kafka.membership import MembershipWatch
from kafkatrade.kafka.quotes import last_quote_times
from kafkatrade.kafka.rebalance import RewindOnAssign
from kafkatrade.models import InvalidRecord, Quote, epoch_ms, parse_record
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


class Poller:
    """Asks the provider for new quotes when it is time: `poll_interval` seconds after a good
    answer; after a failure, an exponential backoff with full jitter, and never sooner than
    the provider's Retry-After (up to the backoff's `max_wait`).

    `now` is the monotonic clock it reads (injectable for tests).
    """

    def __init__(
        self,
        provider: Provider,
        poll_interval: float,
        backoff: Backoff | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.poll_interval = poll_interval
        self.backoff = backoff if backoff is not None else Backoff()
        self.next_poll = 0.0
        self._now = now

    def due(self) -> bool:
        return self._now() >= self.next_poll

    def poll(self, cursors: dict[str, int]) -> list[Quote] | None:
        """The quotes newer than the cursors, or None when the provider failed (logged, and
        the next poll put off); the cursors are left to the caller."""
        try:
            quotes = fetch_new_quotes(self.provider, cursors)
        except ProviderError as error:
            delay = self.backoff.next_delay(at_least=error.retry_after)
            log.warning("provider error=%r retry_in=%.1fs", str(error), delay)
            self.next_poll = self._now() + delay
            return None
        self.backoff.reset()
        self.next_poll = self._now() + self.poll_interval
        return quotes


def publish_quotes(
    producer: KafkaProducer, topic: str, quotes: list[Quote], cursors: dict[str, int]
) -> int:
    """Sends the quotes keyed by symbol, stamped with their event time (and the time they were
    received, in a header), and moves the cursors past the quotes the broker acknowledged.

    A symbol's cursor stops before its first quote that could not be sent, so the next poll
    fetches that quote again (and any later one of the symbol: at least once, never a gap).
    Returns how many quotes were acknowledged.
    """
    received = metrics.received_header()
    futures = [
        producer.send(
            topic,
            key=quote.symbol,
            value=quote.to_json(),
            timestamp_ms=epoch_ms(quote.timestamp),
            headers=[received],
        )
        for quote in quotes
    ]
    producer.flush()
    failed: set[str] = set()
    delivered = 0
    for quote, future in zip(quotes, futures, strict=True):
        if not future.succeeded():
            failed.add(quote.symbol)
            log.warning(
                "send failed symbol=%s timestamp=%s error=%r; it is fetched again",
                quote.symbol,
                quote.timestamp.isoformat(),
                str(future.exception),
            )
            continue
        delivered += 1
        if quote.symbol not in failed:
            cursors[quote.symbol] = max(cursors[quote.symbol], epoch_ms(quote.timestamp))
    return delivered


class Catalogue:
    """The symbols of the assigned `Stocks` partitions, read from their beginnings.

    A record that is not a valid symbol goes to `Stocks.DLQ`, once: the group's committed
    offset of a partition marks how far its records were checked, so reading it again after
    a rebalance sends no dead letter twice.
    """

    def __init__(self, consumer: KafkaConsumer, dead_letters: dlq.DeadLetters) -> None:
        self.consumer = consumer
        self.dead_letters = dead_letters
        self.table = SymbolTable()
        self.checked: dict[TopicPartition, int] = {}

    def assign(self, tp: TopicPartition) -> None:
        self.checked[tp] = self.consumer.committed(tp) or 0

    def revoke(self, tp: TopicPartition) -> None:
        self.table.drop(tp.partition)
        self.checked.pop(tp, None)

    def apply(self, records: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Takes in a poll's records; commits how far they were checked once their dead
        letters are written (when one is not, the records are read again)."""
        sent = []
        for tp, batch in records.items():
            for record in batch:
                try:
                    parse_record("stocks", record.key, record.value)
                except InvalidRecord as error:
                    if record.offset >= self.checked.get(tp, 0):
                        sent.append(self.dead_letters.send(record, error))
                    continue
                self.table.apply(tp.partition, record.key, record.value)
        ahead = {
            tp: OffsetAndMetadata(batch[-1].offset + 1, "", -1)
            for tp, batch in records.items()
            if batch[-1].offset >= self.checked.get(tp, 0)
        }
        if not ahead:
            return
        try:
            self.dead_letters.producer.flush()
            for future in sent:
                future.get(timeout=0)
            self.consumer.commit(ahead)
        except KafkaError as error:
            log.warning("Stocks records not checked off error=%r; read again", str(error))
            for tp, batch in records.items():
                self.consumer.seek(tp, batch[0].offset)
            return
        self.checked.update({tp: offset.offset for tp, offset in ahead.items()})


def _subscribe(settings: Settings, client_id: str) -> tuple[KafkaConsumer, RewindOnAssign]:
    consumer = clients.consumer(settings, settings.downloader_group, client_id=client_id)
    listener = RewindOnAssign(consumer)
    consumer.subscribe([settings.stocks_topic], listener=listener)
    return consumer, listener


def run(settings: Settings, instance: str, stop: threading.Event, health: Health) -> None:
    provider = IexProvider(
        settings.provider_base_url, settings.provider_api_key, timeout=settings.http_timeout
    )
    client_id = f"downloader-{instance}"
    consumer, listener = _subscribe(settings, client_id)
    membership = MembershipWatch(settings, settings.downloader_group, client_id)
    # Idempotent (acks=all, at most 5 requests in flight, which the factory's 1 is): a send
    # the client retries after a lost acknowledgement is written once. Explicit, so that a
    # conflicting setting fails at startup instead of silently turning idempotence off. The
    # same producer carries the dead letters of Stocks (hence their request size).
    producer = clients.producer(
        settings, client_id=client_id, enable_idempotence=True, **dlq.PRODUCER_CONFIG
    )
    dead_letters = dlq.DeadLetters(producer, "downloader")
    catalogue = Catalogue(consumer, dead_letters)
    cursors: dict[str, int] = {}
    poller = Poller(provider, settings.poll_interval)
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
                    catalogue.revoke(tp)
                    if change == "assigned":
                        catalogue.assign(tp)
                log.info("partitions %s %s", change, sorted(tp.partition for tp in partitions))
            if records:
                catalogue.apply(records)
            elif membership.lost(consumer):
                consumer.close()
                consumer, listener = _subscribe(settings, client_id)
                catalogue = Catalogue(consumer, dead_letters)
            owned = catalogue.table.symbols()
            if owned != set(cursors):
                gained = owned - set(cursors)
                for symbol in set(cursors) - owned:
                    del cursors[symbol]
                if gained:
                    cursors.update(last_quote_times(settings, gained))
                log.info("symbols=%s", ",".join(sorted(owned)) or "-")
            metrics.SYMBOLS_ASSIGNED.labels(instance).set(len(cursors))
            metrics.set_quote_ages(cursors)
            if not cursors or not poller.due():
                continue
            started = time.perf_counter()
            quotes = poller.poll(cursors)
            if quotes is None:
                continue
            delivered = publish_quotes(producer, settings.quotes_topic, quotes, cursors)
            metrics.MESSAGES_PRODUCED.labels("downloader", settings.quotes_topic).inc(delivered)
            metrics.QUOTES_DOWNLOADED.labels(provider.name).inc(delivered)
            metrics.PROCESSING.labels("downloader").observe(time.perf_counter() - started)
            if quotes:
                log.info("published quotes=%d", delivered)
    finally:
        producer.close()
        consumer.close()
        provider.close()
        log.info("stopped")
