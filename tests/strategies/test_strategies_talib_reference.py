"""The engine's orders for the four crossing strategies on the default real data equal an
independent computation: TA-Lib over each whole series, then a plain loop of the rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import talib

from kafkatrade.marketdata import load
from kafkatrade.trading.engine import TradingEngine


def _crossings(a: np.ndarray, b: np.ndarray) -> list[int]:
    """ta4j's CrossedUp (+1) / CrossedDown (-1) per bar, from the first bar where both exist;
    equal bars are skipped when looking back."""
    out = [0] * len(a)
    last = 0
    for i in range(len(a)):
        if math.isnan(a[i]) or math.isnan(b[i]) or a[i] == b[i]:
            continue
        side = 1 if a[i] > b[i] else -1
        out[i] = side if last == -side else 0
        last = side
    return out


def _levels(values: np.ndarray, level: float) -> list[int]:
    return _crossings(values, np.where(np.isnan(values), np.nan, level))


def reference(strategy: str, closes: np.ndarray) -> list[tuple[int, str, int, float]]:
    if strategy == "ema_cross":
        cross = _crossings(talib.EMA(closes, 12), talib.EMA(closes, 26))
        buy, sell = [c == 1 for c in cross], [c == -1 for c in cross]
    elif strategy == "macd_signal":
        macd, signal, _ = talib.MACD(closes, 12, 26, 9)
        cross = _crossings(macd, signal)
        buy, sell = [c == 1 for c in cross], [c == -1 for c in cross]
    elif strategy == "rsi_reversion":
        rsi = talib.RSI(closes, 14)
        buy = [c == -1 for c in _levels(rsi, 30.0)]
        sell = [c == 1 for c in _levels(rsi, 70.0)]
    else:
        upper, _, lower = talib.BBANDS(closes, 20, 2.0, 2.0, 0)
        buy = [c == -1 for c in _crossings(closes, lower)]
        sell = [c == 1 for c in _crossings(closes, upper)]
    orders, position = [], 0
    for i, close in enumerate(closes.tolist()):
        if position == 0 and buy[i] and (quantity := math.floor(10_000 / close)) > 0:
            orders.append((i, "BUY", quantity, close))
            position = quantity
        elif position > 0 and sell[i]:
            orders.append((i, "SELL", position, close))
            position = 0
    return orders


@pytest.mark.parametrize(
    "strategy", ["ema_cross", "rsi_reversion", "macd_signal", "bollinger_reversion"]
)
def test_engine_orders_equal_the_talib_reference_on_every_default_symbol(strategy):
    total = 0
    for symbol, bars in load().items():
        engine = TradingEngine([strategy])
        got = [
            (o.side, o.quantity, o.price, o.timestamp, o.strategy)
            for bar in bars
            for o in engine.on_quote(bar.to_quote(symbol, "test"))
        ]
        closes = np.array([bar.close for bar in bars])
        want = [
            (side, quantity, price, bars[i].timestamp, strategy)
            for i, side, quantity, price in reference(strategy, closes)
        ]
        assert got == want, symbol
        total += len(want)
    assert total > 20  # the real data trades: the comparison is not vacuous
