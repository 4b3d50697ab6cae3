"""Rebalance callbacks that hand partition changes to the service's own loop.

kafka-python 3 runs a listener on the consumer's IO thread, where blocking calls stall the
heartbeat or raise. So the listener does only what is instant, rewinding the new partitions
to their beginning, and queues the change; the service reacts in its loop.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Literal

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

Change = tuple[Literal["assigned", "revoked"], set[TopicPartition]]


class RewindOnAssign(ConsumerRebalanceListener):
    """Every newly assigned partition is read again from its beginning.

    Services whose state is a function of a partition's whole history (the downloader's
    symbols, the bot's indicator windows) rebuild it from there.
    """

    def __init__(self, consumer: KafkaConsumer) -> None:
        self._consumer = consumer
        self._changes: queue.SimpleQueue[Change] = queue.SimpleQueue()

    def on_partitions_revoked(self, revoked) -> None:
        if revoked:
            self._changes.put(("revoked", set(revoked)))

    def on_partitions_assigned(self, assigned) -> None:
        if assigned:
            self._consumer.seek_to_beginning(*assigned)
            self._changes.put(("assigned", set(assigned)))

    def changes(self) -> Iterator[Change]:
        """The changes since the last call, oldest first."""
        while True:
            try:
                yield self._changes.get_nowait()
            except queue.Empty:
                return
