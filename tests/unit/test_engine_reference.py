"""The bot's engine over the default real data equals the independent reference computation."""

import pytest

from kafkatrade.marketdata import load
from kafkatrade.trading.engine import TradingEngine
from tests.reference import expected_orders


@pytest.mark.parametrize("strategy", ["sma_trend", "sma_reversion"])
def test_engine_matches_pandas_ta_reference_on_every_default_symbol(strategy):
    data = load()
    total = 0
    for symbol, bars in data.items():
        engine = TradingEngine([strategy])
        got = [
            (o.side, o.quantity, o.price, o.timestamp)
            for bar in bars
            for o in engine.on_quote(bar.to_quote(symbol, "test"))
        ]
        closes = [bar.close for bar in bars]
        want = [
            (side, qty, price, bars[i].timestamp)
            for i, side, qty, price in expected_orders(closes, strategy)
        ]
        assert got == want, symbol
        total += len(want)
    assert total > 100  # the real data trades: the comparison is not vacuous
