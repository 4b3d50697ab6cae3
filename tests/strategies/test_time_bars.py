"""Time bars from quotes by event time: OHLCV, closing on a later window, late and duplicate
quotes, and the orders they make."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kafkatrade.config import BARS
from kafkatrade.models import Quote
from kafkatrade.trading.bars import PERIODS, BarBuilder, window_start
from kafkatrade.trading.engine import TradingEngine

T0 = datetime(2024, 5, 1, 14, 30, tzinfo=UTC)


def q(seconds: float, price: float, volume: float = 100, symbol: str = "AAPL") -> Quote:
    return Quote(symbol, price, volume, T0 + timedelta(seconds=seconds), "test")


def ohlcv(bar):
    return (bar.time, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.quotes)


def test_the_settings_offer_exactly_the_bars_the_engine_builds():
    assert tuple(PERIODS) == BARS


def test_window_is_the_timestamp_floored_to_the_period_in_utc():
    moment = datetime(2024, 5, 1, 14, 37, 59, 999_999, tzinfo=UTC)
    assert window_start(moment, PERIODS["5m"]) == datetime(2024, 5, 1, 14, 35, tzinfo=UTC)
    assert window_start(moment, PERIODS["1h"]) == datetime(2024, 5, 1, 14, tzinfo=UTC)
    assert window_start(moment, PERIODS["1d"]) == datetime(2024, 5, 1, tzinfo=UTC)


def test_one_minute_bars_from_ticks_close_when_a_later_window_starts():
    builder = BarBuilder("1m")
    ticks = [q(0, 10), q(10, 12, 0), q(20, 9), q(59.5, 11, 50), q(61, 20), q(130, 21), q(200, 5)]
    closed = [bar for tick in ticks if (bar := builder.add(tick))]
    assert [ohlcv(b) for b in closed] == [
        # 14:30: open 10, high 12, low 9, close 11, volume 100+0+100+50 (a zero-volume tick counts)
        (T0, 10, 12, 9, 11, 250, 4),
        (T0 + timedelta(minutes=1), 20, 20, 20, 20, 100, 1),
        # 14:32 has no quote: no bar; 14:33's bar stays open (nothing later arrived)
        (T0 + timedelta(minutes=2), 21, 21, 21, 21, 100, 1),
    ]
    assert closed[0].closed_by == T0 + timedelta(seconds=61)
    assert closed[0].last_quote == T0 + timedelta(seconds=59.5)
    assert ohlcv(builder.open_bar) == (T0 + timedelta(minutes=3), 5, 5, 5, 5, 100, 1)


def test_late_quotes_are_dropped_and_duplicates_ignored():
    engine = TradingEngine(["sma_trend:window=2"], bar="1m")
    stream = [
        q(0, 10),
        q(0, 99),  # same timestamp: a duplicate, ignored
        q(30, 11),
        q(20, 99),  # same window, older than the last quote: ignored
        q(65, 12),  # closes 14:30 (close 11)
        q(50, 99),  # window 14:30, older than the open bar (14:31): late, dropped
        q(125, 13),  # closes 14:31 (close 12): SMA(2) of 11, 12 = 11.5 < 12 -> BUY
        q(1, 99),  # late
    ]
    orders = [o for quote in stream for o in engine.on_quote(quote)]
    assert [(o.side, o.price, o.timestamp, o.quote_timestamp) for o in orders] == [
        ("BUY", 12, T0 + timedelta(minutes=1), T0 + timedelta(seconds=125)),
    ]
    assert orders[0].order_id == "AAPL:sma_trend:window=2:2024-05-01T14:31:00Z:BUY"
    assert engine.dropped_quotes == {("AAPL", "stale"): 2, ("AAPL", "late"): 2}
    assert engine.late_quotes == 2


def test_tick_bars_are_a_bar_per_quote_and_count_older_quotes_as_late():
    engine = TradingEngine(["sma_trend:window=2"])
    stream = [q(0, 10), q(60, 12), q(60, 12), q(30, 1), q(120, 9)]
    orders = [o for quote in stream for o in engine.on_quote(quote)]
    assert [(o.side, o.price, o.timestamp, o.quote_timestamp) for o in orders] == [
        ("BUY", 12, T0 + timedelta(seconds=60), T0 + timedelta(seconds=60)),
        ("SELL", 9, T0 + timedelta(seconds=120), T0 + timedelta(seconds=120)),
    ]
    assert engine.dropped_quotes == {("AAPL", "stale"): 1, ("AAPL", "late"): 1}


def test_symbols_have_their_own_bars():
    builder_engine = TradingEngine(["sma_trend:window=2"], bar="1h")
    stream = [
        q(0, 10, symbol="A"),
        q(0, 10, symbol="B"),
        q(3600, 12, symbol="A"),  # closes A's first hour only
        q(100, 8, symbol="B"),  # B's first hour is still open
        q(7200, 13, symbol="A"),  # A: SMA(10, 12) = 11 < 12 -> BUY, bar time 15:00
    ]
    orders = [o for quote in stream for o in builder_engine.on_quote(quote)]
    assert [(o.symbol, o.side, o.price, o.timestamp) for o in orders] == [
        ("A", "BUY", 12, datetime(2024, 5, 1, 15, tzinfo=UTC)),
    ]
    assert builder_engine.dropped_quotes == {}


@pytest.mark.parametrize("bar", ["2m", "tick ", "1M", ""])
def test_an_unknown_bar_is_refused(bar):
    with pytest.raises(ValueError, match="unknown bar"):
        TradingEngine(["sma_trend"], bar=bar)
