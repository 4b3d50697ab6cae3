"""TradingBot: turns the quotes of its `Quotes` partitions into orders on `Orders`, exactly once.

The work of each poll is one Kafka transaction: the orders, the new state of every symbol it
touched (on the compacted changelog, in the partition of its quotes) and the consumed offsets
(`send_offsets_to_transaction`) are committed together or not at all. A replica given a
partition restores its symbols' states from the changelog and goes on from the group's
committed offset: after a crash or a rebalance, the next order is the one an uninterrupted bot
would have made, and no order reaches a read_committed reader twice.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError, ProducerFencedError

from kafkatrade import metrics
from kafkatrade.config import Settings
from kafkatrade.kafka import changelog, clients, dlq
from kafkatrade.kafka.history import partition_count
from kafkatrade.kafka.membership import MembershipWatch
from kafkatrade.kafka.rebalance import PartitionChanges
from kafkatrade.kafka.topics import bot_changelog, ensure_topics
from kafkatrade.models import InvalidRecord, Order, epoch_ms, parse_record
from kafkatrade.services.health import Health
from kafkatrade.trading.engine import TradingEngine
from kafkatrade.trading.snapshot import SnapshotMismatch

log = logging.getLogger(__name__)


class BotFenced(RuntimeError):
    """Another bot runs with this instance's transactional id (the same `--instance`): this
    one must stop, as its transactions are refused."""


def _resume_offset(consumer: KafkaConsumer, tp: TopicPartition) -> int:
    """The group's committed offset: the quotes from there on are new.

    An offset beyond the partition's end belongs to an earlier topic of the same name (a
    deleted and recreated topic): then the partition is new to the group and starts at 0.
    """
    committed = consumer.committed(tp) or 0
    end = consumer.end_offsets([tp])[tp]
    if committed > end:
        log.warning(
            "committed offset %d beyond the end %d of partition=%d: the topic was recreated; "
            "starting from its beginning",
            committed,
            end,
            tp.partition,
        )
        return 0
    return committed


@dataclass
class _Partition:
    """The trading state of one assigned partition's symbols.

    `replay_until`: quotes before this offset only rebuild the state (their orders were sent
    before); it is 0 unless the changelog had no usable state for a partition with progress.
    """

    engine: TradingEngine
    replay_until: int = 0
    touched: set[str] = field(default_factory=set)


def _restore(settings: Settings, consumer: KafkaConsumer, tp: TopicPartition) -> _Partition:
    """The partition's state from the changelog, its consumer positioned where it goes on."""
    start = _resume_offset(consumer, tp)
    engine = TradingEngine.from_settings(settings)
    states = changelog.read_states(settings, tp.partition) if start else {}
    try:
        for symbol, data in states.items():
            engine.restore(symbol, data)
    except SnapshotMismatch as error:
        log.warning("partition=%d state not restored (%s): rebuilding it", tp.partition, error)
        engine, states = TradingEngine.from_settings(settings), {}
    if start and not states:
        # No state for a partition with progress (a first start after an upgrade, or other
        # settings): rebuild it from the quotes, sending only the orders of the new ones.
        consumer.seek(tp, 0)
        log.info("partition=%d rebuilding state from offset 0 to %d", tp.partition, start)
        return _Partition(engine, replay_until=start)
    consumer.seek(tp, start)
    log.info("partition=%d restored symbols=%d from offset %d", tp.partition, len(states), start)
    return _Partition(engine)


def _trade(
    settings: Settings,
    producer: KafkaProducer,
    dead_letters: dlq.DeadLetters,
    tp: TopicPartition,
    part: _Partition,
    batch,
) -> list[float | None]:
    """Sends the orders of a batch's quotes, and its invalid records to the dead-letter topic
    (in the open transaction); returns the receipt times of the quotes that made orders, for
    the latency histogram."""
    received: list[float | None] = []
    for record in batch:
        new = record.offset >= part.replay_until
        try:
            quote = parse_record("quotes", record.key, record.value)
        except InvalidRecord as error:
            if new:
                dead_letters.send(record, error)
            continue
        orders = part.engine.on_quote(quote)
        if not new:
            continue
        metrics.MESSAGES_CONSUMED.labels("bot", tp.topic).inc()
        part.touched.add(quote.symbol)
        for order in orders:
            _send_order(settings, producer, order)
            received.append(metrics.received_at(record.headers))
    return received


def _send_order(settings: Settings, producer: KafkaProducer, order: Order) -> None:
    producer.send(
        settings.orders_topic,
        key=order.symbol,
        value=order.to_json(),
        timestamp_ms=epoch_ms(order.timestamp),
    )
    metrics.ORDERS.labels(order.strategy, order.side).inc()
    log.info("order id=%s quantity=%d price=%s", order.order_id, order.quantity, order.price)


def _save_states(settings: Settings, producer: KafkaProducer, tp: TopicPartition, part) -> None:
    """The new state of every symbol the transaction changed, beside its quotes' partition."""
    topic = bot_changelog(settings).name
    for symbol in part.touched:
        producer.send(topic, key=symbol, value=part.engine.snapshot(symbol), partition=tp.partition)
    part.touched.clear()


def _subscribe(settings: Settings, client_id: str) -> tuple[KafkaConsumer, PartitionChanges]:
    listener = PartitionChanges()
    consumer = clients.consumer(
        settings, settings.bot_group, [settings.quotes_topic], listener, client_id=client_id
    )
    return consumer, listener


def run(settings: Settings, instance: str, stop: threading.Event, health: Health) -> None:
    quotes_partitions = partition_count(settings, settings.quotes_topic)
    ensure_topics(settings, [bot_changelog(settings, quotes_partitions)])
    client_id = f"bot-{instance}"
    consumer, listener = _subscribe(settings, client_id)
    membership = MembershipWatch(settings, settings.bot_group, client_id)
    producer = clients.producer(
        settings,
        client_id=client_id,
        transactional_id=f"{settings.bot_group}-{instance}",
        **dlq.PRODUCER_CONFIG,
    )
    # Fences an earlier life of this instance and aborts the transaction it left open.
    producer.init_transactions()
    dead_letters = dlq.DeadLetters(producer, "bot")
    parts: dict[TopicPartition, _Partition] = {}
    metrics.start_service("bot", [settings.quotes_topic], [settings.orders_topic])
    metrics.watch_lag(settings, [(settings.bot_group, settings.quotes_topic)], stop)
    log.info("started strategies=%s group=%s", settings.strategies, settings.bot_group)
    try:
        while not stop.is_set():
            health.beat()
            records = consumer.poll(timeout_ms=500)
            health.mark_ready()
            for change, partitions in listener.changes():
                for tp in partitions:
                    parts.pop(tp, None)
                    if change == "assigned":
                        parts[tp] = _restore(settings, consumer, tp)
                        records.pop(tp, None)  # fetched before the seek: read again
                log.info("partitions %s %s", change, sorted(tp.partition for tp in partitions))
            metrics.set_assigned("bot", consumer, [settings.quotes_topic])
            work = {tp: batch for tp, batch in records.items() if tp in parts}
            if work:
                _transact(settings, consumer, producer, dead_letters, parts, work)
            elif membership.lost(consumer):
                consumer.close()
                parts.clear()
                consumer, listener = _subscribe(settings, client_id)
    finally:
        producer.close(timeout=5)
        consumer.close()
        log.info("stopped")


def _transact(
    settings: Settings,
    consumer: KafkaConsumer,
    producer: KafkaProducer,
    dead_letters: dlq.DeadLetters,
    parts: dict[TopicPartition, _Partition],
    work: dict,
) -> None:
    """One poll's records in one transaction; on failure the transaction is aborted and every
    partition restored from what was committed."""
    started = time.perf_counter()
    offsets = {
        tp: OffsetAndMetadata(batch[-1].offset + 1, "", -1)
        for tp, batch in work.items()
        if batch[-1].offset >= parts[tp].replay_until
    }
    if not offsets:  # only rebuilding state: nothing to send or commit
        for tp, batch in work.items():
            _trade(settings, producer, dead_letters, tp, parts[tp], batch)
        return
    producer.begin_transaction()
    try:
        received = []
        for tp, batch in work.items():
            received += _trade(settings, producer, dead_letters, tp, parts[tp], batch)
            _save_states(settings, producer, tp, parts[tp])
        producer.send_offsets_to_transaction(offsets, consumer.group_metadata())
        producer.commit_transaction()
    except ProducerFencedError as error:
        raise BotFenced(
            f"another bot took over transactional id {producer.config['transactional_id']!r} "
            f"({error}); give each bot its own --instance"
        ) from None
    except KafkaError as error:
        log.warning("transaction aborted error=%r: restoring the partitions", str(error))
        producer.abort_transaction()
        for tp in list(parts):
            parts[tp] = _restore(settings, consumer, tp)
        return
    metrics.MESSAGES_PRODUCED.labels("bot", settings.orders_topic).inc(len(received))
    metrics.observe_quote_to_order(received)
    metrics.PROCESSING.labels("bot").observe(time.perf_counter() - started)
