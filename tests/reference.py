"""An independent computation of the reference strategies, written apart from the bot's code.

pandas-ta-classic computes the SMA over the whole series at once; a plain loop applies the
DESIGN.md rules (strict comparisons, one position, floor(notional / price) shares).
"""

from __future__ import annotations

import math

import pandas as pd
import pandas_ta_classic as ta


def expected_orders(
    closes: list[float], rule: str = "sma_trend", window: int = 10, notional: float = 10_000.0
) -> list[tuple[int, str, int, float]]:
    """(bar index, side, quantity, price) of every order over one symbol's closes."""
    sma = ta.sma(pd.Series(closes, dtype="float64"), length=window)
    orders = []
    position = 0
    for index, (close, average) in enumerate(zip(closes, sma, strict=True)):
        if pd.isna(average):
            continue
        above, below = close > average, close < average
        enter, leave = (above, below) if rule == "sma_trend" else (below, above)
        if position == 0 and enter:
            quantity = math.floor(notional / close)
            if quantity > 0:
                orders.append((index, "BUY", quantity, close))
                position = quantity
        elif position > 0 and leave:
            orders.append((index, "SELL", position, close))
            position = 0
    return orders
