"""Rebalance callbacks that hand partition changes to the service's own loop.

kafka-python 3 runs a listener on the consumer's IO thread, where blocking calls stall the
heartbeat or raise. So a listener does only what is instant (at most rewinding the new
partitions to their beginning) and queues the change; the service reacts in its loop.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Literal

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

Change = tuple[Literal["assigned", "revoked"], set[TopicPartition]]


class PartitionChanges(ConsumerRebalanceListener):
    """Queues the assignment changes for the service's loop (see `changes`)."""

    def __init__(self) -> None:
        self._changes: queue.SimpleQueue[Change] = queue.SimpleQueue()

    def on_partitions_revoked(self, revoked) -> None:
        if revoked:
            self._changes.put(("revoked", set(revoked)))

    def on_partitions_assigned(self, assigned) -> None:
        if assigned:
            self._changes.put(("assigned", set(assigned)))

    def changes(self) -> Iterator[Change]:
        """The changes since the last call, oldest first."""
        while True:
            try:
                yield self._changes.get_nowait()
            except queue.Empty:
                return


class RewindOnAssign(PartitionChanges):
    """Every newly assigned partition is read again from its beginning.

    For a service whose state is a function of a partition's whole history (the downloader's
    symbols): it rebuilds it from there.
    """

    def __init__(self, consumer: KafkaConsumer) -> None:
        super().__init__()
        self._consumer = consumer

    def on_partitions_assigned(self, assigned) -> None:
        if assigned:
            self._consumer.seek_to_beginning(*assigned)
        super().on_partitions_assigned(assigned)
