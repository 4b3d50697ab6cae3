"""Realized P&L and open position, checked by hand."""

from datetime import UTC, datetime, timedelta

from kafkatrade.models import Order
from kafkatrade.trading.pnl import pnl_by_symbol

T0 = datetime(2020, 1, 1, tzinfo=UTC)


def order(symbol, side, quantity, price, day, strategy="sma_trend"):
    when = T0 + timedelta(days=day)
    return Order(f"{symbol}{day}{side}", symbol, side, quantity, price, when, strategy, when)


def test_round_trips_and_an_open_position():
    books = pnl_by_symbol(
        [
            order("A", "BUY", 100, 10.0, 0),
            order("A", "SELL", 100, 12.5, 1),  # +250
            order("A", "BUY", 50, 20.0, 2),
            order("A", "SELL", 50, 19.0, 3),  # -50
            order("B", "BUY", 7, 3.0, 0),  # open
        ]
    )
    assert books["A"].realized_pnl == 200.0
    assert books["A"].position == 0
    assert books["A"].orders == 4
    assert books["B"].position == 7
    assert books["B"].realized_pnl == 0.0


def test_strategies_are_booked_apart_then_summed():
    books = pnl_by_symbol(
        [
            order("A", "BUY", 10, 10.0, 0, "sma_trend"),
            order("A", "BUY", 10, 30.0, 1, "sma_reversion"),
            order("A", "SELL", 10, 20.0, 2, "sma_trend"),  # +100 against 10, not the 20 average
        ]
    )
    assert books["A"].realized_pnl == 100.0
    assert books["A"].position == 10
