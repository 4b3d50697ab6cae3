"""A consumer its group lost is told apart from one that is idle by design (real broker)."""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer

from kafkatrade.kafka import clients
from kafkatrade.kafka.groups import describe_groups
from kafkatrade.kafka.membership import MembershipWatch
from tests.support import wait_for

pytestmark = pytest.mark.stack


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


NAMES = ["m-0", "m-1", "m-2"]


def three_members(settings, topic: str) -> tuple[str, dict[str, KafkaConsumer]]:
    """A group of three consumers sharing the two partitions of `topic`, one of them idle.

    kafka-python 3.0.12 sometimes leaves a consumer stuck in its first join (the very fault
    MembershipWatch is for): a group that does not settle is dropped for a fresh one.
    """
    for attempt in range(3):
        group = f"{settings.db_quotes_group}-{attempt}"
        consumers = {n: clients.consumer(settings, group, [topic], client_id=n) for n in NAMES}

        def settled() -> bool:
            for consumer in consumers.values():  # noqa: B023
                consumer.poll(timeout_ms=100)
            members = describe_groups(settings, [group])[group].members  # noqa: B023
            owned = sum(len(m.partitions.get(topic, [])) for m in members)
            mine = sum(len(c.assignment()) for c in consumers.values())  # noqa: B023
            return len(members) == 3 and owned == mine == 2

        try:
            wait_for(settled, 40, "three members share the two partitions")
            return group, consumers
        except AssertionError:
            for consumer in consumers.values():
                consumer.close()
    raise AssertionError("three consumers never settled in a group, in three tries")


def test_an_idle_member_is_kept_and_a_consumer_out_of_its_group_is_lost(isolated):
    topic = isolated.quotes_topic  # 2 partitions
    group, consumers = three_members(isolated, topic)
    clock = Clock()
    watches = {n: MembershipWatch(isolated, group, n, rejoin_after=30, now=clock) for n in NAMES}
    try:
        idle = next(n for n, c in consumers.items() if not c.assignment())
        busy = [n for n in NAMES if n != idle]

        for name in NAMES:  # starts the idle one's clock
            assert not watches[name].lost(consumers[name])
        clock.now = 31
        assert not watches[idle].lost(consumers[idle])  # a member with nothing: idle by design
        assert not any(watches[n].lost(consumers[n]) for n in busy)

        # What kafka-python 3.0.12 did under load: out of the group, never back.
        consumers[idle].unsubscribe()

        def dropped() -> bool:
            for name in busy:  # the members left rejoin in the rebalance this causes
                consumers[name].poll(timeout_ms=100)
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
