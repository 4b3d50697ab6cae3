"""DbService: stores `Quotes` and `Orders` in MongoDB, each topic in its own consumer group.

A batch is upserted in bulk and its offsets are committed only after the write succeeded:
at-least-once delivery, and the upsert on each record's unique key makes a replay overwrite
itself, so every record is stored exactly once. A record that breaks its topic's contract
(`models.parse_record`), or that the database refuses for good, goes to the topic's
dead-letter topic instead; the dead letters are flushed before the commit too, so none is
lost. When the database or Kafka fails, the consumer rewinds to the batch's start and retries
with backoff, committing nothing until the batch is done.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from pymongo.database import Database
from pymongo.errors import PyMongoError

from kafkatrade import metrics
from kafkatrade.config import Settings
from kafkatrade.db import mongo
from kafkatrade.kafka import clients, dlq
from kafkatrade.kafka.membership import MembershipWatch
from kafkatrade.models import InvalidRecord, Order, Quote, Reason, parse_record
from kafkatrade.services.health import Health
from kafkatrade.services.runtime import Backoff

log = logging.getLogger(__name__)


@dataclass
class _Stream:
    """One topic, its consumer group and how its records (key, value) are parsed and stored."""

    settings: Settings
    topic: str
    group: str
    client_id: str
    parse: Callable[[bytes | None, bytes | None], Quote | Order]
    store: Callable[[Database, list], int]
    consumer: KafkaConsumer = field(init=False)
    membership: MembershipWatch = field(init=False)

    def __post_init__(self) -> None:
        self.consumer = self._subscribe()
        self.membership = MembershipWatch(self.settings, self.group, self.client_id)

    def _subscribe(self) -> KafkaConsumer:
        return clients.consumer(self.settings, self.group, [self.topic], client_id=self.client_id)

    def heal(self) -> None:
        """Replaces a consumer its group lost (see `kafka.membership`)."""
        if self.membership.lost(self.consumer):
            self.consumer.close()
            self.consumer = self._subscribe()


def store_batch(
    db: Database, stream: _Stream, dead_letters: dlq.DeadLetters, timeout_ms: int = 200
) -> int:
    """Polls one batch, stores it, sends its refused records to the dead-letter topic and
    commits; when the database or Kafka fails, rewinds to the batch's start and re-raises.

    The dead letters are flushed and checked before the commit: a record leaves the topic's
    backlog only when it is in the database or in the dead-letter topic. A retried batch may
    send a dead letter twice; its origin headers (topic, partition, offset) tell.
    """
    records = stream.consumer.poll(timeout_ms=timeout_ms, max_records=1000)
    if not records:
        return 0
    started = time.perf_counter()
    metrics.count_consumed("dbservice", records)
    items: list[tuple[ConsumerRecord, Quote | Order]] = []
    refused: list[tuple[ConsumerRecord, InvalidRecord]] = []
    for batch in records.values():
        for record in batch:
            try:
                items.append((record, stream.parse(record.key, record.value)))
            except InvalidRecord as error:
                refused.append((record, error))
    try:
        written = _store(db, stream, items, refused)
        sent = [dead_letters.send(record, error) for record, error in refused]
        dead_letters.producer.flush()
        for future in sent:
            future.get(timeout=0)  # raises the error of a dead letter the broker did not take
    except (PyMongoError, KafkaError):
        for tp, batch in records.items():
            stream.consumer.seek(tp, batch[0].offset)
        raise
    stream.consumer.commit()
    metrics.PROCESSING.labels("dbservice").observe(time.perf_counter() - started)
    return written


def _store(
    db: Database,
    stream: _Stream,
    items: list[tuple[ConsumerRecord, Quote | Order]],
    refused: list[tuple[ConsumerRecord, InvalidRecord]],
) -> int:
    """Stores the items; those the database refuses for good are added to `refused`."""
    try:
        return stream.store(db, [item for _, item in items])
    except mongo.DocumentsRejected as error:
        # Of records with the same key, the last one is the document that was refused.
        record_of = {mongo.document_id(item): record for record, item in items}
        refused += [
            (
                record_of[key],
                InvalidRecord(f"refused by the database: {message}", Reason.DB_REJECTED),
            )
            for key, message in error.rejected.items()
        ]
        return error.written


def run(settings: Settings, instance: str, stop: threading.Event, health: Health) -> None:
    db = mongo.connect(settings)
    mongo.ensure_indexes(db)
    streams = [
        _Stream(
            settings,
            settings.quotes_topic,
            settings.db_quotes_group,
            f"dbservice-{instance}-quotes",
            partial(parse_record, "quotes"),
            mongo.upsert_quotes,
        ),
        _Stream(
            settings,
            settings.orders_topic,
            settings.db_orders_group,
            f"dbservice-{instance}-orders",
            partial(parse_record, "orders"),
            mongo.upsert_orders,
        ),
    ]
    # Its own plain producer (acks=all), flushed before each commit: dead letters are durable.
    dead_letters = dlq.DeadLetters(
        clients.producer(settings, client_id=f"dbservice-{instance}-dlq", **dlq.PRODUCER_CONFIG),
        "dbservice",
    )
    backoff = Backoff()
    topics = [settings.quotes_topic, settings.orders_topic]
    metrics.start_service("dbservice", topics)
    lag_of = [
        (settings.db_quotes_group, settings.quotes_topic),
        (settings.db_orders_group, settings.orders_topic),
    ]
    metrics.watch_lag(settings, lag_of, stop)
    log.info("started database=%s", settings.mongo_db)
    try:
        while not stop.is_set():
            health.beat()
            for stream in streams:
                try:
                    written = store_batch(db, stream, dead_letters)
                except (PyMongoError, KafkaError) as error:
                    delay = backoff.next_delay()
                    log.warning(
                        "write failed topic=%s error=%r retry_in=%.1fs",
                        stream.topic,
                        str(error),
                        delay,
                    )
                    stop.wait(delay)
                    continue
                backoff.reset()
                health.mark_ready()
                metrics.set_assigned("dbservice", stream.consumer, [stream.topic])
                stream.heal()
                if written:
                    log.info("stored topic=%s documents=%d", stream.topic, written)
    finally:
        for stream in streams:
            stream.consumer.close()
        dead_letters.producer.close()
        db.client.close()
        log.info("stopped")
