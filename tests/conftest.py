"""Shared fixtures: one real local stack (Kafka broker + MongoDB-protocol server) per session.

The stack runs from this checkout's tool cache, on free ports and in its own folder, so it
never collides with a `make run` in progress. Tests isolate themselves by topic names, group
ids and database name (`isolated` fixture), not by separate brokers.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from pathlib import Path

import pytest

from kafkatrade.config import Settings
from kafkatrade.kafka.topics import default_topics, ensure_topics
from kafkatrade.stack import Stack

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def stack_settings() -> Settings:
    """Settings of the session's local stack; it is started on first use."""
    home = REPO / ".stack" / f"test-{os.getpid()}"
    return Settings.load(environ={}).replace(
        home=home,
        cache_dir=Path(os.environ.get("KAFKATRADE_CACHE_DIR", REPO / ".cache")),
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        mongo_port=free_port(),
        market_port=free_port(),
        kafka_timeout=60.0,
    )


@pytest.fixture(scope="session")
def stack(stack_settings: Settings):
    local = Stack(stack_settings)
    local.up()
    yield local
    local.down()
    shutil.rmtree(stack_settings.home, ignore_errors=True)


def isolate(settings: Settings, tag: str) -> Settings:
    """`settings` with topics, consumer groups and a database of their own, named by `tag`."""
    return settings.replace(
        stocks_topic=f"{tag}.Stocks",
        quotes_topic=f"{tag}.Quotes",
        orders_topic=f"{tag}.Orders",
        downloader_group=f"{tag}.QuotesDownloader",
        bot_group=f"{tag}.TradingBot",
        db_quotes_group=f"{tag}.DbService-Quotes",
        db_orders_group=f"{tag}.DbService-Orders",
        mongo_db=tag.replace("-", "_")[:40],
        poll_interval=0.2,
    )


def unique_tag(request) -> str:
    """A name for this test's topics and groups: its own name, unique per run."""
    tag = f"{request.node.name[:24]}-{uuid.uuid4().hex[:6]}"
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in tag)


def isolated_on(base: Settings, request) -> Settings:
    """`base` with this test's own topics, consumer groups and database, topics created."""
    settings = isolate(base, unique_tag(request))
    ensure_topics(settings, default_topics(settings))
    return settings


@pytest.fixture
def isolated(stack, stack_settings: Settings, request) -> Settings:
    """The session stack's settings with this test's own topics, groups and database."""
    return isolated_on(stack_settings, request)
