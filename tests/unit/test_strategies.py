"""Signals of the reference strategies on short, hand-checked series."""

from datetime import UTC, datetime, timedelta

import pytest

from kafkatrade.models import Quote
from kafkatrade.strategies import UnknownStrategy, check_names
from kafkatrade.strategies.sma import SimpleMovingAverage, SmaReversion, SmaTrend
from kafkatrade.trading.engine import TradingEngine, shares_for

START = datetime(2024, 5, 1, 14, 30, tzinfo=UTC)


def quotes(symbol: str, prices: list[float]) -> list[Quote]:
    return [
        Quote(symbol, price, 100, START + timedelta(minutes=i), "test")
        for i, price in enumerate(prices)
    ]


def test_sma_waits_for_a_full_window_then_averages_the_last_closes():
    sma = SimpleMovingAverage(3)
    assert [sma.update(x) for x in (1.0, 2.0, 3.0, 4.0, 8.0)] == [None, None, 2.0, 3.0, 5.0]


def test_no_signal_before_the_tenth_bar_even_on_a_rise():
    strategy = SmaTrend()
    assert [strategy.signal(float(p), long=False) for p in range(1, 10)] == [None] * 9
    # 10th bar: SMA(1..10) = 5.5 < 10 -> the close is above: BUY
    assert strategy.signal(10.0, long=False) == "BUY"


def test_trend_buys_above_and_sells_below_and_ignores_equality():
    engine = TradingEngine(["sma_trend"])
    prices = [10.0] * 9 + [10.0, 12.0, 11.0, 9.0]
    # bar 10: close 10 == SMA 10 -> nothing; bar 11: SMA = 10.2 < 12 -> BUY floor(10000/12)=833
    # bar 12: SMA = (8*10+12+11)/10 = 10.3 < 11 -> long, hold; bar 13: SMA = 10.2 > 9 -> SELL
    orders = [o for q in quotes("AAPL", prices) for o in engine.on_quote(q)]
    assert [(o.side, o.quantity, o.price) for o in orders] == [
        ("BUY", 833, 12.0),
        ("SELL", 833, 9.0),
    ]
    assert orders[0].timestamp == START + timedelta(minutes=10)
    assert orders[0].order_id == "AAPL:sma_trend:2024-05-01T14:40:00Z:BUY"


def test_reversion_is_the_article_code_taken_literally():
    strategy = SmaReversion()
    for price in [10.0] * 9:
        assert strategy.signal(price, long=False) is None
    assert strategy.signal(8.0, long=False) == "BUY"  # SMA 9.8 above the close
    assert strategy.signal(12.0, long=True) == "SELL"  # SMA 10.0 below the close


def test_a_share_dearer_than_the_notional_makes_no_order():
    assert shares_for(10_000, 10_001) == 0
    engine = TradingEngine(["sma_trend"], notional=10_000)
    prices = [20_000.0] * 9 + [30_000.0]
    assert [o for q in quotes("NVR", prices) for o in engine.on_quote(q)] == []


def test_a_quote_not_newer_than_the_last_changes_nothing():
    prices = [10.0] * 9 + [12.0, 9.0]
    stream = quotes("AAPL", prices)
    clean = TradingEngine(["sma_trend"])
    expected = [o for q in stream for o in clean.on_quote(q)]
    noisy = TradingEngine(["sma_trend"])
    replayed = stream[:5] + stream[2:5] + stream[5:10] + [stream[9], stream[3]] + stream[10:]
    assert [o for q in replayed for o in noisy.on_quote(q)] == expected
    assert len(expected) == 2


def test_symbols_and_strategies_keep_separate_positions():
    engine = TradingEngine(["sma_trend", "sma_reversion"])
    up = [10.0] * 9 + [12.0]
    orders = [
        o for q in quotes("A", up) + quotes("B", [10.0] * 9 + [8.0]) for o in engine.on_quote(q)
    ]
    assert [(o.symbol, o.strategy, o.side) for o in orders] == [
        ("A", "sma_trend", "BUY"),
        ("B", "sma_reversion", "BUY"),
    ]


@pytest.mark.parametrize("names", [["sma_trnd"], [], ["sma_trend", "sma_trend"]])
def test_unknown_or_repeated_strategies_are_refused(names):
    with pytest.raises(UnknownStrategy):
        check_names(names)
