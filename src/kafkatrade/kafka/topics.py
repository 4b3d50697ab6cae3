"""The topics of the pipeline, made through Kafka's admin API.

`ensure_topics` is safe to call at every start: a topic that exists is left as it is. Kafka can
add partitions to a topic but never remove them, and adding them moves keys to other
partitions, so a topic with fewer partitions than configured is reported, not changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.errors import (
    KafkaTimeoutError,
    NoError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
    for_code,
)

from kafkatrade.config import Settings
from kafkatrade.kafka.clients import admin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    """A topic as the pipeline wants it: partitions, replicas and topic-level configs."""

    name: str
    partitions: int
    replication: int = 1
    configs: Mapping[str, str] = field(default_factory=dict)


# Record timestamps are the quotes' event times, and replayed history is years old: with the
# default retention.ms (7 days, checked against those timestamps) the broker would delete it
# minutes after it arrived. History is kept until deleted on purpose.
KEEP_HISTORY = {"retention.ms": "-1"}


def bot_changelog(settings: Settings, partitions: int | None = None) -> TopicSpec:
    """The bots' state changelog (`kafka.changelog`): compacted, partitioned like Quotes
    (`partitions`, default the setting), named as Kafka Streams names its changelogs,
    `<application.id>-<store>-changelog`."""
    return TopicSpec(
        f"{settings.bot_group}-state-changelog",
        partitions or settings.quotes_partitions,
        1,
        {"cleanup.policy": "compact"},
    )


def dead_letter_topic(topic: str) -> str:
    """The topic that receives the records of `topic` a service refused (DESIGN.md)."""
    return f"{topic}.DLQ"


# A dead letter is its record plus error headers, so it can be larger than the largest record
# its topic takes (1 MiB by default): the dead-letter topics take twice that.
DEAD_LETTER_MAX_BYTES = 2 * 1024 * 1024


def dead_letter_spec(topic: str) -> TopicSpec:
    """One partition, one replica (DESIGN.md): dead letters are few and read back in order.
    They are stamped with the time they were refused, so the broker's retention (7 days by
    default) runs from then, whatever the age of the original record."""
    return TopicSpec(
        dead_letter_topic(topic), 1, 1, {"max.message.bytes": str(DEAD_LETTER_MAX_BYTES)}
    )


def default_topics(settings: Settings) -> list[TopicSpec]:
    """Stocks (compacted: the latest record per symbol is the symbol list), Quotes, Orders,
    a dead-letter topic for each of these three, and the bots' state changelog."""
    consumed = [
        TopicSpec(
            settings.stocks_topic, settings.stocks_partitions, 1, {"cleanup.policy": "compact"}
        ),
        TopicSpec(settings.quotes_topic, settings.quotes_partitions, 1, KEEP_HISTORY),
        TopicSpec(settings.orders_topic, settings.orders_partitions, 1, KEEP_HISTORY),
    ]
    return [
        *consumed,
        *(dead_letter_spec(spec.name) for spec in consumed),
        bot_changelog(settings),
    ]


def partition_counts(client: KafkaAdminClient, names: Iterable[str]) -> dict[str, int]:
    """The number of partitions of each of `names` that exists (missing ones are left out)."""
    names = list(names)
    if not names:
        return {}
    return {
        topic["name"]: len(topic["partitions"])
        for topic in client.describe_topics(names)
        if topic["error_code"] == 0
    }


def ensure_topics(settings: Settings, specs: Iterable[TopicSpec]) -> list[str]:
    """Creates the topics of `specs` that do not exist and waits until they have leaders.

    Returns the names created. An existing topic is not changed; if it has fewer partitions
    than its spec, a warning says so.
    """
    specs = list(specs)
    with admin(settings) as client:
        existing = partition_counts(client, [spec.name for spec in specs])
        for spec in specs:
            have = existing.get(spec.name)
            if have is not None and have < spec.partitions:
                log.warning(
                    "topic=%s has %d partitions, fewer than the %d configured; left as it is "
                    "(add partitions with kafka-topics --alter, or delete the topic)",
                    spec.name,
                    have,
                    spec.partitions,
                )
        missing = [spec for spec in specs if spec.name not in existing]
        if not missing:
            return []
        # kafka-python 3 takes a dict here; its NewTopic objects are deprecated.
        result = client.create_topics(
            {
                spec.name: {
                    "num_partitions": spec.partitions,
                    "replication_factor": spec.replication,
                    "configs": dict(spec.configs),
                }
                for spec in missing
            },
            timeout_ms=int(settings.kafka_timeout * 1000),
            raise_errors=False,
        )
        created = []
        for topic in result["topics"]:
            error = for_code(topic["error_code"])
            if error is NoError:
                created.append(topic["name"])
            elif error is not TopicAlreadyExistsError:  # made meanwhile by someone else
                raise error(f"creating topic {topic['name']}: {topic['error_message']}")
        client.wait_for_topics(
            [spec.name for spec in missing], timeout_ms=int(settings.kafka_timeout * 1000)
        )
    for name in created:
        spec = next(spec for spec in missing if spec.name == name)
        log.info(
            "created topic=%s partitions=%d replication=%d configs=%s",
            name,
            spec.partitions,
            spec.replication,
            dict(spec.configs),
        )
    return created


def delete_topics(settings: Settings, names: Iterable[str]) -> None:
    """Deletes the topics (missing ones are fine) and waits until the cluster no longer lists
    them, so the same names can be created again at once."""
    names = list(names)
    if not names:
        return
    deadline = time.monotonic() + settings.kafka_timeout
    with admin(settings) as client:
        result = client.delete_topics(
            names, timeout_ms=int(settings.kafka_timeout * 1000), raise_errors=False
        )
        for topic in result["topics"]:
            error = for_code(topic["error_code"])
            if error not in (NoError, UnknownTopicOrPartitionError):
                raise error(f"deleting topic {topic['name']}: {topic.get('error_message')}")
        while remaining := set(names) & set(client.list_topics()):
            if time.monotonic() >= deadline:
                raise KafkaTimeoutError(
                    f"topics {sorted(remaining)} still listed {settings.kafka_timeout:g} s "
                    "after their deletion"
                )
            time.sleep(0.1)
    log.info("deleted topics=%s", ",".join(names))
