"""Sizing and risk limits: notional, max position value, stop-loss, take-profit, and the
count of every rejected signal with its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kafkatrade.config import ConfigError, Settings
from kafkatrade.models import Quote
from kafkatrade.trading.engine import TradingEngine

START = datetime(2024, 5, 1, 14, 30, tzinfo=UTC)


def trade(engine: TradingEngine, prices: list[float], symbol: str = "AAPL"):
    quotes = [
        Quote(symbol, p, 100, START + timedelta(minutes=i), "test") for i, p in enumerate(prices)
    ]
    return [(o.side, o.quantity, o.price, o.strategy) for q in quotes for o in engine.on_quote(q)]


# sma_trend:window=2 -- flat and close > mean of the last 2 closes: BUY; long and below: SELL.


def test_buy_quantity_is_the_notional_over_the_close_rounded_down():
    engine = TradingEngine(["sma_trend:window=2"], notional=1000)
    assert trade(engine, [10, 30]) == [("BUY", 33, 30, "sma_trend:window=2")]
    assert engine.rejections == {}


def test_a_share_dearer_than_the_notional_is_a_rejected_signal():
    engine = TradingEngine(["sma_trend:window=2", "sma_reversion:window=2"], notional=1000)
    # bar 2: close 2000 > SMA 1500: sma_trend would BUY, but 1000 buys 0 shares
    # bar 3: close 1500 < SMA 1750: sma_reversion would BUY: 0 shares again
    assert trade(engine, [1000, 2000, 1500]) == []
    assert engine.rejections == {
        ("sma_trend:window=2", "zero_quantity"): 1,
        ("sma_reversion:window=2", "zero_quantity"): 1,
    }


def test_max_position_value_caps_the_quantity_and_rejects_a_cap_of_zero_shares():
    engine = TradingEngine(["sma_trend:window=2"], notional=1000, max_position_value=250)
    assert trade(engine, [10, 30, 20], symbol="A") == [
        ("BUY", 8, 30, "sma_trend:window=2"),  # floor(250 / 30), not floor(1000 / 30) = 33
        ("SELL", 8, 20, "sma_trend:window=2"),
    ]
    assert trade(engine, [100, 300], symbol="B") == []  # floor(250 / 300) = 0
    assert engine.rejections == {("sma_trend:window=2", "max_position"): 1}


def test_a_max_position_above_the_notional_changes_nothing():
    engine = TradingEngine(["sma_trend:window=2"], notional=1000, max_position_value=5000)
    assert trade(engine, [10, 30]) == [("BUY", 33, 30, "sma_trend:window=2")]


def test_stop_loss_sells_the_whole_position_when_the_close_falls_below_entry_minus_pct():
    # sma_trend (SMA(10)) buys at 12 (SMA 10.2); the closes then stay above their SMA
    # (10.34, 10.44), so only the stop sells: 12 * 0.95 = 11.4; 11.4 itself holds (strict),
    # 11 sells.
    engine = TradingEngine(["sma_trend"], notional=120, stop_loss_pct=5)
    prices = [10] * 9 + [12, 11.4, 11]
    assert trade(engine, prices) == [("BUY", 10, 12, "sma_trend"), ("SELL", 10, 11, "sma_trend")]
    assert engine.exits == {("sma_trend", "stop_loss"): 1}


def test_the_strategy_exit_wins_over_the_stop_and_is_not_counted_as_one():
    # BUY at 12 (SMA(3) 10.67); 10.5 < SMA 10.83: the strategy sells; the stop is at 6.
    engine = TradingEngine(["sma_trend:window=3"], notional=120, stop_loss_pct=50)
    assert [s for s, *_ in trade(engine, [10, 10, 12, 10.5])] == ["BUY", "SELL"]
    assert engine.exits == {}


def test_take_profit_sells_when_the_close_rises_above_entry_plus_pct():
    engine = TradingEngine(
        ["sma_trend:window=3"], notional=120, take_profit_pct=20, stop_loss_pct=5
    )
    # BUY at 12; target 12 * 1.2 = 14.4: 14.4 itself holds (strict; SMA(3) 12.13 holds too),
    # 14.5 sells; then flat again, the close 15 > SMA 14.63 buys anew.
    prices = [10, 10, 12, 14.4, 14.5, 15]
    assert [(s, q, p) for s, q, p, _ in trade(engine, prices)] == [
        ("BUY", 10, 12),
        ("SELL", 10, 14.5),
        ("BUY", 8, 15),
    ]
    assert engine.exits == {("sma_trend:window=3", "take_profit"): 1}


def test_the_engine_takes_its_risk_settings_from_the_bot_settings():
    settings = Settings.load(
        {
            "KAFKATRADE_STRATEGIES": "sma_trend,ema_cross:fast=5:slow=20",
            "KAFKATRADE_BAR": "5m",
            "KAFKATRADE_MAX_POSITION_VALUE": "5000",
            "KAFKATRADE_STOP_LOSS_PCT": "2.5",
            "KAFKATRADE_TAKE_PROFIT_PCT": "10",
        }
    )
    engine = TradingEngine.from_settings(settings)
    assert engine.names == ["sma_trend", "ema_cross:fast=5:slow=20"]
    assert (engine.bar, engine.max_position_value) == ("5m", 5000.0)
    assert (engine.stop_loss_pct, engine.take_profit_pct) == (2.5, 10.0)
    assert TradingEngine.from_settings(settings, ["macd_signal"]).names == ["macd_signal"]
    assert Settings().bar == "tick" and Settings().stop_loss_pct is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"KAFKATRADE_BAR": "2m"},
            "KAFKATRADE_BAR) must be one of tick, 1m, 5m, 15m, 1h, 1d, not '2m'",
        ),
        (
            {"KAFKATRADE_MAX_POSITION_VALUE": "0"},
            "KAFKATRADE_MAX_POSITION_VALUE) must be a positive",
        ),
        (
            {"KAFKATRADE_STOP_LOSS_PCT": "-1"},
            "KAFKATRADE_STOP_LOSS_PCT) must be a positive",
        ),
        (
            {"KAFKATRADE_STOP_LOSS_PCT": "100"},
            "KAFKATRADE_STOP_LOSS_PCT) is a percentage below 100",
        ),
        (
            {"KAFKATRADE_TAKE_PROFIT_PCT": "nan"},
            "KAFKATRADE_TAKE_PROFIT_PCT: 'nan' is not a finite",
        ),
        ({"KAFKATRADE_TAKE_PROFIT_PCT": "ten"}, "KAFKATRADE_TAKE_PROFIT_PCT: 'ten' is not"),
    ],
)
def test_bad_trading_settings_are_refused_in_one_line(env, message):
    with pytest.raises(ConfigError) as error:
        Settings.load(env)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
