"""Consumer lag as kafka_exporter defines it: end offset minus the group's committed offset."""

from __future__ import annotations

from kafka import TopicPartition
from kafka.errors import KafkaError

from kafkatrade.config import Settings
from kafkatrade.kafka import clients


class LagReader:
    """Reads end offsets and committed offsets through one consumer and one admin client."""

    def __init__(self, settings: Settings) -> None:
        self._consumer = clients.consumer(settings, group_id=None)
        self._admin = clients.admin(settings)

    def end_offsets(self, topic: str) -> dict[int, int]:
        partitions = [TopicPartition(topic, p) for p in self._consumer.partitions_for_topic(topic)]
        return {tp.partition: end for tp, end in self._consumer.end_offsets(partitions).items()}

    def group_lag(self, group: str, topic: str) -> dict[int, int]:
        """Per partition of `topic`, how many records `group` has not committed yet."""
        try:
            committed = self._admin.list_group_offsets({group: None}).get(group, {})
        except KafkaError as error:
            if not error.retriable:  # e.g. the coordinator is still loading: nothing committed
                raise
            committed = {}
        done = {tp.partition: meta.offset for tp, meta in committed.items() if tp.topic == topic}
        return {p: end - max(done.get(p, 0), 0) for p, end in self.end_offsets(topic).items()}

    def close(self) -> None:
        self._consumer.close()
        self._admin.close()

    def __enter__(self) -> LagReader:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
