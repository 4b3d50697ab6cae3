"""Dead letters: the records a service refused, kept on `<topic>.DLQ` with why.

A refused record goes to the dead-letter topic of the topic it came from (DESIGN.md) as it
came: same key, same value bytes, its own headers. Headers added follow Kafka Connect's
dead-letter convention (`__connect.errors.topic`, `.partition`, `.offset`,
`.exception.message`, ...) under our own prefix, plus the reason code and the service:

    kafkatrade.errors.reason     stable code (models.Reason), e.g. `price`
    kafkatrade.errors.message    what exactly was wrong, in words
    kafkatrade.errors.service    the service that refused it, e.g. `dbservice`
    kafkatrade.errors.topic      where the record was: topic,
    kafkatrade.errors.partition  partition (decimal text)
    kafkatrade.errors.offset     and offset (decimal text)

All values are UTF-8 text, as Connect writes them, so `kafka-console-consumer
--property print.headers=true` shows them as they are. One exception to "as it came": a
tombstone without a key is sent with an empty value, as kafka-python refuses a record with
neither; its reason, `tombstone`, says the value was null, and `DeadLetter` reads it so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.producer.future import FutureRecordMetadata

from kafkatrade import metrics
from kafkatrade.config import Settings
from kafkatrade.kafka.history import read_history
from kafkatrade.kafka.topics import DEAD_LETTER_MAX_BYTES, dead_letter_topic
from kafkatrade.models import InvalidRecord, Reason

log = logging.getLogger(__name__)

# What the producer given to DeadLetters needs (`clients.producer(settings, **PRODUCER_CONFIG)`).
PRODUCER_CONFIG = {"max_request_size": DEAD_LETTER_MAX_BYTES}

HEADER_PREFIX = "kafkatrade.errors."
REASON_HEADER = HEADER_PREFIX + "reason"
MESSAGE_HEADER = HEADER_PREFIX + "message"
SERVICE_HEADER = HEADER_PREFIX + "service"
TOPIC_HEADER = HEADER_PREFIX + "topic"
PARTITION_HEADER = HEADER_PREFIX + "partition"
OFFSET_HEADER = HEADER_PREFIX + "offset"


class DeadLetters:
    """Sends refused records of any topic to its dead-letter topic with `producer`.

    The producer is the caller's, and must send bytes as they are (as `clients.producer`'s
    do) and take requests as large as `PRODUCER_CONFIG` says: a record near its topic's size
    limit is larger with its error headers. `send` never flushes: the caller makes the dead
    letters durable before it commits the offsets of the records they replace, by flushing a
    plain producer or by committing the transaction of a transactional one (so a dead letter
    goes with the work it belongs to).
    """

    def __init__(self, producer: KafkaProducer, service: str) -> None:
        self.producer = producer
        self.service = service

    def send(self, record: ConsumerRecord, error: InvalidRecord) -> FutureRecordMetadata:
        """Sends `record` to the dead-letter topic of `record.topic`, counts and logs it.

        The future is the caller's to check after its flush: a dead letter the broker did
        not take must not let the offset move past its record.
        """
        future = self.producer.send(
            dead_letter_topic(record.topic),
            key=record.key,
            value=b"" if record.key is None and record.value is None else record.value,
            headers=self._headers(record, error),
        )
        metrics.DLQ_MESSAGES.labels(record.topic, error.reason).inc()
        log.warning(
            "dead letter topic=%s partition=%d offset=%d reason=%s error=%r",
            record.topic,
            record.partition,
            record.offset,
            error.reason,
            str(error),
        )
        return future

    def _headers(self, record: ConsumerRecord, error: InvalidRecord) -> list[tuple[str, bytes]]:
        # The record's own headers stay; error headers of an earlier refusal (a dead letter
        # written back to its topic) are replaced, not repeated.
        kept = [(k, v) for k, v in record.headers or () if not k.startswith(HEADER_PREFIX)]
        added = {
            REASON_HEADER: str(error.reason),
            MESSAGE_HEADER: str(error),
            SERVICE_HEADER: self.service,
            TOPIC_HEADER: record.topic,
            PARTITION_HEADER: str(record.partition),
            OFFSET_HEADER: str(record.offset),
        }
        return kept + [(name, text.encode()) for name, text in added.items()]


@dataclass(frozen=True)
class DeadLetter:
    """A record of a dead-letter topic, its error headers decoded."""

    key: bytes | None
    value: bytes | None
    reason: str
    message: str
    service: str
    topic: str
    partition: int
    offset: int
    headers: dict[str, bytes]  # every header, the record's own ones included

    @classmethod
    def from_record(cls, record: ConsumerRecord) -> DeadLetter:
        headers = dict(record.headers or ())

        def text(name: str) -> str:
            return headers[name].decode()

        reason = text(REASON_HEADER)
        return cls(
            key=record.key,
            value=None if reason == Reason.TOMBSTONE else record.value,
            reason=reason,
            message=text(MESSAGE_HEADER),
            service=text(SERVICE_HEADER),
            topic=text(TOPIC_HEADER),
            partition=int(text(PARTITION_HEADER)),
            offset=int(text(OFFSET_HEADER)),
            headers=headers,
        )


def read_dead_letters(settings: Settings, topic: str) -> list[DeadLetter]:
    """The dead letters of `topic` (the source topic's name, not `<topic>.DLQ`), oldest first;
    MissingTopic when there is no dead-letter topic."""
    return [DeadLetter.from_record(r) for r in read_history(settings, dead_letter_topic(topic))]
