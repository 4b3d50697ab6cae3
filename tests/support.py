"""Helpers for tests that run services as real processes and read topics back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from kafkatrade.config import Settings
from kafkatrade.kafka import clients
from kafkatrade.kafka.groups import describe_groups
from kafkatrade.kafka.history import read_history
from kafkatrade.models import Order, Quote, epoch_ms


def read_orders(settings: Settings) -> list[Order]:
    return [Order.from_json(r.value) for r in read_history(settings, settings.orders_topic)]


def read_quotes(settings: Settings) -> list[Quote]:
    return [Quote.from_json(r.value) for r in read_history(settings, settings.quotes_topic)]


def send_quotes(settings: Settings, quotes: Iterable[Quote]) -> None:
    """Produces the quotes onto the Quotes topic as the downloader does (keyed by symbol,
    stamped with their event time) and waits until the broker has them all."""
    producer = clients.producer(settings)
    try:
        for quote in quotes:
            producer.send(
                settings.quotes_topic,
                key=quote.symbol,
                value=quote.to_json(),
                timestamp_ms=epoch_ms(quote.timestamp),
            )
        producer.flush()
    finally:
        producer.close()


def kafkatrade(
    *args: str,
    settings: Settings | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 420,
) -> subprocess.CompletedProcess:
    """`kafkatrade <args>` run to its end as a user runs it, configured by `settings`/`env`."""
    return subprocess.run(
        [sys.executable, "-m", "kafkatrade", *args],
        env=os.environ | (settings.to_env() if settings else {}) | (env or {}),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_service(settings: Settings, log_dir: Path, name: str, *args: str) -> subprocess.Popen:
    """`kafkatrade <args>` as its own process, configured through the environment."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{name}.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "kafkatrade", *args],
            env=os.environ | settings.to_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def group_partitions(settings: Settings, group: str) -> dict[str, set[int]] | None:
    """client id -> partitions of each member of a Stable group; None while it rebalances."""
    described = describe_groups(settings, [group])[group]
    if described.state != "Stable":
        return None
    return {
        member.client_id: {p for parts in member.partitions.values() for p in parts}
        for member in described.members
    }


def wait_for(condition, timeout: float, what: str, interval: float = 0.5):
    """The first truthy value of `condition()` within `timeout` seconds, else a failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not within {timeout:g} s: {what}")
