"""Reading a topic's history: every record from the beginning to the end it has now."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from kafkatrade.config import Settings
from kafkatrade.kafka import clients


class MissingTopic(LookupError):
    """The topic does not exist."""


def read_history(
    settings: Settings, topic: str, only: Iterable[int] | None = None
) -> Iterator[ConsumerRecord]:
    """The committed records of `topic` (of its partitions `only`, default all) up to their
    current end offsets, each partition in offset order.

    A group-less consumer, so reading commits nothing and disturbs no group.
    """
    consumer = clients.consumer(settings, group_id=None)
    try:
        numbers = consumer.partitions_for_topic(topic)
        if not numbers:
            raise MissingTopic(f"topic {topic} does not exist; run `kafkatrade stack up`")
        if only is not None:
            numbers = set(only)
        partitions = [TopicPartition(topic, p) for p in sorted(numbers)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            for tp, records in consumer.poll(timeout_ms=500).items():
                yield from (record for record in records if record.offset < end[tp])
    finally:
        consumer.close()


def count_records(settings: Settings, topic: str) -> int:
    """The committed records of `topic`: its end offsets also count transaction markers."""
    return sum(1 for _ in read_history(settings, topic))


def partition_count(settings: Settings, topic: str) -> int:
    consumer = clients.consumer(settings, group_id=None)
    try:
        numbers = consumer.partitions_for_topic(topic)
        if not numbers:
            raise MissingTopic(f"topic {topic} does not exist; run `kafkatrade stack up`")
        return len(numbers)
    finally:
        consumer.close()
