"""Telling a consumer that is idle by design from one its group lost.

Seen under load with kafka-python 3.0.12: right after a quick second join, a consumer stopped
heartbeating, the broker removed it (or handed it partitions it never learned of), and it
never rejoined, so its topic stopped being read. The services replace such a consumer; a
consumer that is simply idle (more replicas than partitions) is a member of its group with
nothing assigned, and is left alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kafka import KafkaConsumer

from kafkatrade.config import Settings
from kafkatrade.kafka.groups import describe_groups

log = logging.getLogger(__name__)

# A consumer with no partitions this long is checked against its group: a little more than
# the session timeout (clients.consumer's 10 s), after which the broker has dropped a member
# that stopped heartbeating.
REJOIN_AFTER = 12.0
# While the group rebalances, it is looked at again this often.
SETTLE_CHECK = 1.0


class MembershipWatch:
    """Checks, once a consumer has had no partitions for `rejoin_after` seconds, that its
    group still counts it as an idle member (`lost` says when it does not). Only a settled
    group (Stable or Empty) is judged; during a rebalance it is looked at again every second."""

    def __init__(
        self,
        settings: Settings,
        group: str,
        client_id: str,
        rejoin_after: float = REJOIN_AFTER,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.group = group
        self.client_id = client_id
        self.rejoin_after = rejoin_after
        self._now = now
        self._next_check: float | None = None  # None while the consumer has partitions

    def lost(self, consumer: KafkaConsumer) -> bool:
        """True when `consumer` must be replaced: it has had no partitions for a while, and
        its group either does not list it or lists partitions for it that it does not have."""
        if consumer.assignment():
            self._next_check = None
            return False
        now = self._now()
        if self._next_check is None:
            self._next_check = now + self.rejoin_after
            return False
        if now < self._next_check:
            return False
        group = describe_groups(self.settings, [self.group])[self.group]
        if group.state not in ("Stable", "Empty"):
            # A rebalance under way: a healthy consumer is rejoining. Look again shortly.
            self._next_check = now + SETTLE_CHECK
            return False
        self._next_check = now + self.rejoin_after
        mine = [m for m in group.members if m.client_id == self.client_id]
        if mine and not any(partitions for m in mine for partitions in m.partitions.values()):
            return False
        log.warning(
            "consumer %s: group=%s %s; starting a new one",
            self.client_id,
            self.group,
            "assigns it partitions it never received" if mine else "lost it",
        )
        return True
