"""A consumer its group lost is told apart from one that is idle by design (real broker)."""

from __future__ import annotations

import pytest

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


def test_an_idle_member_is_kept_and_a_consumer_out_of_its_group_is_lost(isolated):
    group, topic = isolated.db_quotes_group, isolated.quotes_topic  # 2 partitions
    names = ["m-0", "m-1", "m-2"]
    consumers = {n: clients.consumer(isolated, group, [topic], client_id=n) for n in names}
    clock = Clock()
    watches = {n: MembershipWatch(isolated, group, n, rejoin_after=30, now=clock) for n in names}
    try:

        def settled() -> bool:
            for consumer in consumers.values():
                consumer.poll(timeout_ms=100)
            members = describe_groups(isolated, [group])[group].members
            owned = sum(len(m.partitions.get(topic, [])) for m in members)
            mine = sum(len(c.assignment()) for c in consumers.values())
            return len(members) == 3 and owned == mine == 2

        wait_for(settled, 90, "three members share the two partitions")
        idle = next(n for n, c in consumers.items() if not c.assignment())
        busy = [n for n in names if n != idle]

        for name in names:  # starts the idle one's clock
            assert not watches[name].lost(consumers[name])
        clock.now = 31
        assert not watches[idle].lost(consumers[idle])  # a member with nothing: idle by design
        assert not any(watches[n].lost(consumers[n]) for n in busy)

        # What kafka-python 3.0.12 did under load: out of the group, never back.
        consumers[idle].unsubscribe()

        def dropped() -> bool:
            for name in busy:  # the members left rejoin in the rebalance this causes
                consumers[name].poll(timeout_ms=100)
            members = describe_groups(isolated, [group])[group].members
            return idle not in {m.client_id for m in members}

        wait_for(dropped, 120, "the group drops the unsubscribed consumer")
        clock.now = 45
        assert not watches[idle].lost(consumers[idle])  # checked at 31: not again before 61
        clock.now = 62
        assert watches[idle].lost(consumers[idle])
    finally:
        for consumer in consumers.values():
            consumer.close()
