"""Consumer groups as the broker describes them: state, members and their partitions."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from kafka import errors
from kafka.errors import KafkaError

from kafkatrade.config import Settings
from kafkatrade.kafka import clients


@dataclass
class Member:
    client_id: str
    host: str
    partitions: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class Group:
    group_id: str
    state: str
    members: list[Member]


def describe_groups(settings: Settings, group_ids: list[str]) -> dict[str, Group]:
    """Each group's state and members; state "Unknown" while its coordinator is not ready."""
    admin = clients.admin(settings)
    try:
        try:
            described = admin.describe_groups(group_ids)
        except KafkaError as error:
            if not error.retriable:
                raise
            return {g: Group(g, "Unknown", []) for g in group_ids}
    finally:
        admin.close()
    groups = {}
    for group_id in group_ids:
        description = described.get(group_id) or {}
        members = [
            Member(
                client_id=m["client_id"],
                host=m["client_host"].lstrip("/"),
                partitions={
                    a["topic"]: sorted(a["partitions"])
                    for a in (m.get("member_assignment") or {}).get("assigned_partitions", [])
                },
            )
            for m in description.get("members", [])
        ]
        groups[group_id] = Group(group_id, description.get("group_state", "Dead"), members)
    return groups


class GroupInUse(RuntimeError):
    """A consumer group to delete still has members."""


def delete_groups(settings: Settings, group_ids: list[str]) -> None:
    """Deletes the groups and their committed offsets (missing groups are fine).

    Deleting a topic does not reliably drop a group's committed offsets for it: a group that
    outlives its topics would resume a recreated topic at offsets from its former life.
    """
    deadline = time.monotonic() + settings.kafka_timeout
    pending = list(group_ids)
    admin = clients.admin(settings)
    try:
        while pending:
            try:
                outcomes = dict(admin.delete_groups(pending))  # a dict, whatever its docs say
            except KafkaError as error:  # the coordinator may still be starting
                if not error.retriable or time.monotonic() >= deadline:
                    raise
                outcomes = {}
            pending = []
            for group_id, outcome in outcomes.items():
                if outcome in ("OK", "GroupIdNotFoundError"):
                    continue
                if outcome == "NonEmptyGroupError":
                    raise GroupInUse(
                        f"consumer group {group_id} still has members: stop its services first"
                    )
                error = getattr(errors, outcome, KafkaError)
                if not error.retriable or time.monotonic() >= deadline:
                    raise error(f"deleting consumer group {group_id}: {outcome}")
                pending.append(group_id)  # e.g. its coordinator is loading: try again
            if pending:
                time.sleep(0.5)
    finally:
        admin.close()
