"""A consumer its group lost is told apart from one that is idle by design (real broker)."""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer

from kafkatrade.kafka import clients
from kafkatrade.kafka.groups import describe_groups
from kafkatrade.kafka.membership import MembershipWatch
from kafkatrade.kafka.topics import TopicSpec, ensure_topics
from tests.support import wait_for

pytestmark = pytest.mark.stack


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


NAMES = ["m-0", "m-1"]


def two_members(settings, topic: str) -> tuple[str, dict[str, KafkaConsumer]]:
    """A group of two consumers of `topic`, which has one partition: one of them is idle.

    kafka-python 3.0.x sometimes leaves a consumer stuck in its first join (the very fault
    MembershipWatch is for): a group that does not settle is dropped for a fresh one.
    """
    for attempt in range(3):
        group = f"{settings.db_quotes_group}-{attempt}"
        consumers = {n: clients.consumer(settings, group, [topic], client_id=n) for n in NAMES}

        def settled() -> bool:
            for consumer in consumers.values():  # noqa: B023
                consumer.poll(timeout_ms=100)
            if sum(len(c.assignment()) for c in consumers.values()) != 1:  # noqa: B023
                return False
            described = describe_groups(settings, [group])[group]  # noqa: B023
            owned = sum(len(m.partitions.get(topic, [])) for m in described.members)
            return described.state == "Stable" and len(described.members) == 2 and owned == 1

        try:
            wait_for(settled, 40, "two members share the one partition", interval=0.1)
            return group, consumers
        except AssertionError:
            for consumer in consumers.values():
                consumer.close()
    raise AssertionError("two consumers never settled in a group, in three tries")


def test_an_idle_member_is_kept_and_a_consumer_out_of_its_group_is_lost(isolated):
    topic = f"{isolated.quotes_topic}-single"
    ensure_topics(isolated, [TopicSpec(topic, 1, 1)])
    group, consumers = two_members(isolated, topic)
    clock = Clock()
    watches = {n: MembershipWatch(isolated, group, n, rejoin_after=30, now=clock) for n in NAMES}
    try:
        idle = next(n for n, c in consumers.items() if not c.assignment())
        (busy,) = [n for n in NAMES if n != idle]

        for name in NAMES:  # starts the idle one's clock
            assert not watches[name].lost(consumers[name])
        clock.now = 31
        assert not watches[idle].lost(consumers[idle])  # a member with nothing: idle by design
        assert not watches[busy].lost(consumers[busy])

        # What kafka-python 3.0.12 did under load: out of the group, never back.
        consumers[idle].unsubscribe()

        def dropped() -> bool:
            consumers[busy].poll(timeout_ms=100)  # it rejoins in the rebalance this causes
            described = describe_groups(isolated, [group])[group]
            members = {m.client_id for m in described.members}
            return described.state == "Stable" and idle not in members

        wait_for(dropped, 120, "the group drops the unsubscribed consumer and settles")
        clock.now = 45
        assert not watches[idle].lost(consumers[idle])  # checked at 31: not again before 61
        clock.now = 62
        assert watches[idle].lost(consumers[idle])
    finally:
        for consumer in consumers.values():
            consumer.close()
