"""The dbservice replaces a consumer that left its group and never rejoined."""

from __future__ import annotations

import time

import pytest

from kafkatrade.kafka.groups import describe_groups
from kafkatrade.models import Quote
from kafkatrade.services import dbservice
from tests.support import group_partitions, wait_for

pytestmark = pytest.mark.stack


def test_a_consumer_out_of_its_group_is_replaced_and_an_idle_member_is_not(isolated):
    group = isolated.db_quotes_group
    stream = dbservice._Stream(
        isolated,
        isolated.quotes_topic,
        group,
        "db-heal",
        Quote.from_json,
        lambda db, items: len(items),
    )
    try:

        def assigned():
            stream.consumer.poll(timeout_ms=200)
            return stream.consumer.assignment()

        wait_for(assigned, 60, "the first consumer is assigned")
        first = stream.consumer
        stream.heal()
        assert stream.consumer is first  # assigned: left alone

        # What kafka-python 3.0.12 did under load: out of the group, never back.
        stream.consumer.unsubscribe()
        wait_for(
            lambda: not describe_groups(isolated, [group])[group].members,
            30,
            "the group has no member",
        )
        stream.heal()  # starts the clock
        stream.unassigned_since = time.monotonic() - dbservice.REJOIN_AFTER - 1
        stream.heal()
        assert stream.consumer is not first
        wait_for(assigned, 60, "the new consumer is assigned")
        assert group_partitions(isolated, group) == {"db-heal": {0, 1}}
    finally:
        stream.consumer.close()
