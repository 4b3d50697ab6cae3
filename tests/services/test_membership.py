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
    # A member with no partitions, as a replica beyond the partition count is: a consumer
    # of a topic that does not exist joins its group and is given nothing.
    group, name = isolated.db_quotes_group, "m-0"
    consumer = clients.consumer(
        isolated,
        group,
        [f"{isolated.quotes_topic}-absent"],
        client_id=name,
        allow_auto_create_topics=False,
    )
    clock = Clock()
    watch = MembershipWatch(isolated, group, name, rejoin_after=30, now=clock)
    try:

        def member(state: str) -> bool:
            consumer.poll(timeout_ms=100)
            described = describe_groups(isolated, [group])[group]
            return described.state == state and name in {m.client_id for m in described.members}

        wait_for(lambda: member("Stable"), 60, "the consumer is a member of its stable group")
        assert not consumer.assignment()

        assert not watch.lost(consumer)  # starts its clock
        clock.now = 31
        assert not watch.lost(consumer)  # a member with nothing: idle by design

        # What kafka-python 3.0.x did under load: out of the group, never back.
        consumer.unsubscribe()

        def dropped() -> bool:
            described = describe_groups(isolated, [group])[group]
            return name not in {m.client_id for m in described.members}

        wait_for(dropped, 120, "the group drops the unsubscribed consumer")
        clock.now = 45
        assert not watch.lost(consumer)  # checked at 31: not again before 61
        clock.now = 62
        assert watch.lost(consumer)
    finally:
        consumer.close()
