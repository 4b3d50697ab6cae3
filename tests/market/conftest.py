"""A tiny market and replay servers over real HTTP, shared by the server and client tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from kafkatrade.market import ReplayServer
from kafkatrade.marketdata import Bar, MarketData

# The timeline of the tiny market: five days.
T = [datetime(2024, 1, day, tzinfo=UTC) for day in range(1, 6)]
MS = [round(moment.timestamp() * 1000) for moment in T]


def tiny_market() -> MarketData:
    """AAA trades on days 1-4 (full OHLCV), ^GSPC on 2 and 4 (closes), BRK.B on 3 and 5."""
    return MarketData(
        {
            "AAA": [
                Bar(T[0], 10.0, 11.0, 9.0, 10.5, 1000.0),
                Bar(T[1], 10.5, 12.0, 10.0, 11.5, 2000.0),
                Bar(T[2], 11.5, 11.5, 10.5, 11.0, 1500.0),
                Bar(T[3], 11.0, 13.0, 11.0, 12.5, 3000.0),
            ],
            "^GSPC": [
                Bar(T[1], None, None, None, 4700.0, 0.0),
                Bar(T[3], None, None, None, 4750.5, 0.0),
            ],
            "BRK.B": [
                Bar(T[2], None, None, None, 360.25, 10.0),
                Bar(T[4], None, None, None, 361.0, 12.5),
            ],
        },
        source="tiny",
    )


class FakeTime:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture(scope="module")
def market() -> MarketData:
    return tiny_market()


@pytest.fixture(scope="module")
def finished_server(market):
    """rate 0: the whole tiny market is available at once."""
    with ReplayServer(market, rate=0).start() as server:
        yield server


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def stepped_server(market, fake_time):
    """Two steps per second of `fake_time`, which starts at step 1 (day 1)."""
    with ReplayServer(market, rate=2, now=fake_time).start() as server:
        yield server


@pytest.fixture(scope="session")
def days() -> list[datetime]:
    """The five instants of the tiny market's timeline."""
    return list(T)


@pytest.fixture(scope="session")
def day_ms() -> list[int]:
    """The same instants in epoch milliseconds, as the IEX API gives them."""
    return list(MS)


# The fault kinds in the order the replay server documents for its draw.
FAULT_KINDS = ("500", "429", "timeout", "truncated")


def expected_faults(shares: dict[str, float], seed: int, count: int) -> list[str | None]:
    """The fault of each of `count` requests in a row, by the documented rule."""
    draws = random.Random(seed)
    sequence: list[str | None] = []
    for _ in range(count):
        u, edge, kind = draws.random(), 0.0, None
        for name in FAULT_KINDS:
            edge += shares.get(name, 0.0)
            if u < edge:
                kind = name
                break
        sequence.append(kind)
    return sequence
