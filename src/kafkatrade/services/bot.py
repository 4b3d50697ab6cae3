"""TradingBot: turns the quotes of its `Quotes` partitions into orders on `Orders`.

Quotes are keyed by symbol, so a symbol's whole history reaches one replica. A replica that
is given a partition reads it again from the beginning to rebuild each symbol's indicator
window and position, and sends orders only past the group's committed offset: after a
restart or a rebalance, the next order is the one an uninterrupted bot would have made.
"""

from __future__ import annotations

import logging
import threading
import time

from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition

from kafkatrade import metrics
from kafkatrade.config import Settings
from kafkatrade.kafka import clients
from kafkatrade.kafka.rebalance import RewindOnAssign
from kafkatrade.models import InvalidRecord, Quote, epoch_ms
from kafkatrade.services.health import Health
from kafkatrade.trading.engine import TradingEngine

log = logging.getLogger(__name__)


def _resume_offset(consumer: KafkaConsumer, tp: TopicPartition) -> int:
    """The group's committed offset: orders are sent only for the quotes from there on.

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


def run(settings: Settings, instance: str, stop: threading.Event, health: Health) -> None:
    consumer = clients.consumer(settings, settings.bot_group, client_id=f"bot-{instance}")
    listener = RewindOnAssign(consumer)
    consumer.subscribe([settings.quotes_topic], listener=listener)
    producer = clients.producer(settings, client_id=f"bot-{instance}")
    engines: dict[TopicPartition, TradingEngine] = {}
    replay_until: dict[TopicPartition, int] = {}
    metrics.start_service("bot", [settings.quotes_topic], [settings.orders_topic])
    metrics.watch_lag(settings, [(settings.bot_group, settings.quotes_topic)], stop)
    log.info("started strategies=%s group=%s", settings.strategies, settings.bot_group)
    try:
        while not stop.is_set():
            health.beat()
            records = consumer.poll(timeout_ms=500)
            health.mark_ready()
            started = time.perf_counter()
            for change, partitions in listener.changes():
                for tp in partitions:
                    engines.pop(tp, None)
                    replay_until.pop(tp, None)
                    if change == "assigned":
                        engines[tp] = TradingEngine.from_settings(settings)
                        replay_until[tp] = _resume_offset(consumer, tp)
                log.info("partitions %s %s", change, sorted(tp.partition for tp in partitions))
            metrics.set_assigned("bot", consumer, [settings.quotes_topic])
            commits: dict[TopicPartition, OffsetAndMetadata] = {}
            received: list[float | None] = []  # of the quotes of the orders sent
            for tp, batch in records.items():
                engine = engines[tp]
                # Replayed records rebuild state; only those past the committed offset are new.
                new = sum(1 for record in batch if record.offset >= replay_until[tp])
                metrics.MESSAGES_CONSUMED.labels("bot", tp.topic).inc(new)
                for record in batch:
                    try:
                        quote = Quote.from_json(record.value)
                    except InvalidRecord as error:
                        log.warning(
                            "skipped partition=%d offset=%d reason=%r",
                            tp.partition,
                            record.offset,
                            str(error),
                        )
                        if record.offset >= replay_until[tp]:
                            metrics.DLQ_MESSAGES.labels(tp.topic, metrics.INVALID_RECORD).inc()
                        continue
                    orders = engine.on_quote(quote)
                    if record.offset < replay_until[tp]:
                        continue  # replaying: these orders were sent before
                    for order in orders:
                        producer.send(
                            settings.orders_topic,
                            key=order.symbol,
                            value=order.to_json(),
                            timestamp_ms=epoch_ms(order.timestamp),
                        )
                        metrics.ORDERS.labels(order.strategy, order.side).inc()
                        received.append(metrics.received_at(record.headers))
                        log.info(
                            "order id=%s quantity=%d price=%s",
                            order.order_id,
                            order.quantity,
                            order.price,
                        )
                if batch[-1].offset >= replay_until[tp]:
                    commits[tp] = OffsetAndMetadata(batch[-1].offset + 1, "", -1)
            if commits:
                # Orders are on the broker before the quotes that made them count as done.
                producer.flush()
                metrics.MESSAGES_PRODUCED.labels("bot", settings.orders_topic).inc(len(received))
                metrics.observe_quote_to_order(received)
                consumer.commit(commits)
            if records:
                metrics.PROCESSING.labels("bot").observe(time.perf_counter() - started)
    finally:
        producer.close()
        consumer.close()
        log.info("stopped")
