"""Consumer groups as the broker describes them: state, members and their partitions."""

from __future__ import annotations

from dataclasses import dataclass, field

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
