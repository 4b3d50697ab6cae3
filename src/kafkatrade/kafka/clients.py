"""The one place where Kafka producers, consumers and admin clients are made.

Services never build client configs themselves: they ask for a client here, which applies the
project's defaults and the security settings (SASL/TLS) from `Settings`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from kafka.serializer import Serializer

from kafkatrade.config import Settings


class KafkaUnavailable(RuntimeError):
    """The cluster did not answer within the configured timeout."""


def connection_config(settings: Settings) -> dict:
    """bootstrap_servers and security settings shared by every client."""
    config: dict = {
        "bootstrap_servers": settings.kafka_bootstrap.split(","),
        "security_protocol": settings.security_protocol,
        "request_timeout_ms": 30_000,
        # One bootstrap attempt spans the whole timeout: a failed client leaks its IO thread.
        "bootstrap_timeout_ms": int(settings.kafka_timeout * 1000),
    }
    optional = {
        "sasl_mechanism": settings.sasl_mechanism,
        "sasl_plain_username": settings.sasl_username,
        "sasl_plain_password": settings.sasl_password,
        "ssl_cafile": settings.ssl_cafile,
        "ssl_certfile": settings.ssl_certfile,
        "ssl_keyfile": settings.ssl_keyfile,
    }
    config.update({key: value for key, value in optional.items() if value})
    return config


def _retry_until_available(make, settings: Settings):
    """Calls `make()` until the cluster answers, for at most `settings.kafka_timeout` seconds."""
    deadline = time.monotonic() + settings.kafka_timeout
    while True:
        try:
            return make()
        except KafkaError as error:
            if time.monotonic() >= deadline:
                raise KafkaUnavailable(
                    f"Kafka at {settings.kafka_bootstrap} did not answer within "
                    f"{settings.kafka_timeout:g} s ({type(error).__name__}); is the broker "
                    "running (`kafkatrade stack up`) and KAFKATRADE_BOOTSTRAP_SERVERS right?"
                ) from None
            time.sleep(0.5)


class SymbolKey(Serializer):
    """Record keys are symbols: text on our side, UTF-8 bytes on the wire."""

    def serialize(self, topic, headers, data):
        return data.encode() if isinstance(data, str) else data


def producer(settings: Settings, **overrides) -> KafkaProducer:
    """A producer that waits for all in-sync replicas and never reorders a key's records."""
    config = connection_config(settings) | {
        "acks": "all",
        "linger_ms": 5,
        "max_in_flight_requests_per_connection": 1,
        "key_serializer": SymbolKey(),
    }
    config.update(overrides)
    return _retry_until_available(lambda: KafkaProducer(**config), settings)


def consumer(
    settings: Settings,
    group_id: str | None,
    topics: Iterable[str] = (),
    listener: ConsumerRebalanceListener | None = None,
    **overrides,
) -> KafkaConsumer:
    """A consumer that commits only when told to (offsets move after the work is done) and
    reads only committed records: a transaction the bot aborted is never seen."""
    config = connection_config(settings) | {
        "group_id": group_id,
        "enable_auto_commit": False,
        "isolation_level": "read_committed",
        "auto_offset_reset": "earliest",
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 3_000,
    }
    config.update(overrides)
    client = _retry_until_available(lambda: KafkaConsumer(**config), settings)
    if topics:
        client.subscribe(list(topics), listener=listener)
    return client


def admin(settings: Settings) -> KafkaAdminClient:
    return _retry_until_available(lambda: KafkaAdminClient(**connection_config(settings)), settings)
