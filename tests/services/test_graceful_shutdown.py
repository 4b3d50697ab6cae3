"""SIGTERM (what Kubernetes sends) stops every service within 10 s: the bot's transaction in
flight is finished, offsets are committed, and the service leaves its group at once instead
of letting the broker time it out; a bot stopped mid-stream and started again sends every
order once."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter

import pytest

from kafkatrade.kafka.groups import describe_groups
from kafkatrade.kafka.lag import LagReader
from kafkatrade.marketdata import load
from kafkatrade.trading.engine import TradingEngine
from tests.support import read_orders, send_quotes, start_service, wait_for

pytestmark = pytest.mark.stack

GRACE = 10.0  # seconds: the chart's terminationGracePeriodSeconds leaves room above this


def _members(settings, group: str) -> list[str]:
    return [m.client_id for m in describe_groups(settings, [group])[group].members]


def _stop(process: subprocess.Popen) -> float:
    """Sends SIGTERM and returns how long the process took to exit."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    return time.monotonic() - started


@pytest.mark.parametrize(
    ("kind", "groups"),
    [
        ("downloader", ["downloader_group"]),
        ("bot", ["bot_group"]),
        ("dbservice", ["db_quotes_group", "db_orders_group"]),
    ],
)
def test_sigterm_stops_the_service_in_time_and_it_leaves_its_groups(
    isolated, tmp_path, kind, groups
):
    names = [getattr(isolated, group) for group in groups]
    process = start_service(isolated, tmp_path, kind, kind, "--instance", "1")
    try:
        wait_for(lambda: all(_members(isolated, g) for g in names), 60, f"{kind} joins {names}")
        took = _stop(process)
    finally:
        if process.poll() is None:
            process.kill()
    log = (tmp_path / f"{kind}.log").read_text()
    assert process.returncode == 0, log[-2000:]
    assert took < GRACE, log[-2000:]
    assert "signal=SIGTERM stopping" in log
    assert log.rstrip().endswith("stopped"), log[-2000:]
    # Left the group: no member is waiting for the session timeout to expire.
    assert all(_members(isolated, g) == [] for g in names)


def _default_quotes() -> list:
    """Every quote of the default data, in the order they are sent."""
    data = load()
    return [bar.to_quote(symbol, "test") for symbol in data for bar in data[symbol]]


def test_a_bot_stopped_mid_stream_and_restarted_sends_every_order_once(isolated, tmp_path):
    settings = isolated.replace(strategies="sma_trend,macd_signal")
    quotes = _default_quotes()
    engine = TradingEngine.from_settings(settings)
    expected = [order.to_dict() for quote in quotes for order in engine.on_quote(quote)]
    assert len(expected) > 500
    # The first half before the stop, the second after: the stop is always mid-stream, and
    # while the first half flows it may come in the middle of a transaction.
    half = len(quotes) // 2
    send_quotes(settings, quotes[:half])

    first = start_service(settings, tmp_path, "bot-first", "bot", "--instance", "1")
    try:
        wait_for(lambda: len(read_orders(settings)) > 50, 60, "the first orders")
        took = _stop(first)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0 and took < GRACE
    assert 50 < len(read_orders(settings)) < len(expected)
    send_quotes(settings, quotes[half:])

    second = start_service(settings, tmp_path, "bot-second", "bot", "--instance", "1")
    try:
        with LagReader(settings) as lag:
            wait_for(
                lambda: sum(lag.group_lag(settings.bot_group, settings.quotes_topic).values()) == 0,
                120,
                "the restarted bot consumes every quote",
            )
    finally:
        _stop(second)
    got = [order.to_dict() for order in read_orders(settings)]
    assert Counter(o["order_id"] for o in got).most_common(1)[0][1] == 1  # none twice
    by_symbol = lambda orders, s: [o for o in orders if o["symbol"] == s]  # noqa: E731
    for symbol in {q.symbol for q in quotes}:
        assert by_symbol(got, symbol) == by_symbol(expected, symbol), symbol
    restored = (tmp_path / "bot-second.log").read_text()
    assert "restored symbols=" in restored and "rebuilding state" not in restored
