"""The article's Ta4j SMA(10) rules, in the text's direction and in the code's literal one."""

from __future__ import annotations

import math
from collections import deque

from kafkatrade.models import Side


class SimpleMovingAverage:
    """Mean of the last `window` closes, the current one included (as Ta4j and TA-Lib)."""

    def __init__(self, window: int) -> None:
        self.window = window
        self._closes: deque[float] = deque(maxlen=window)

    def update(self, close: float) -> float | None:
        """Adds a close; the average once `window` closes were seen, else None (warm-up)."""
        self._closes.append(close)
        if len(self._closes) < self.window:
            return None
        # fsum: the correctly rounded sum, so equality with the close is not a rounding accident.
        return math.fsum(self._closes) / self.window


class SmaTrend:
    """Buy when the close rises above its SMA, sell when it falls below (the article's text)."""

    name = "sma_trend"

    def __init__(self, window: int = 10) -> None:
        self.sma = SimpleMovingAverage(window)

    def signal(self, close: float, long: bool) -> Side | None:
        average = self.sma.update(close)
        if average is None:
            return None
        if not long and close > average:
            return "BUY"
        if long and close < average:
            return "SELL"
        return None


class SmaReversion:
    """The article's code taken literally: `OverIndicatorRule(sma, close)` enters when the SMA
    is above the close, and the exit rule leaves when the SMA is below it."""

    name = "sma_reversion"

    def __init__(self, window: int = 10) -> None:
        self.sma = SimpleMovingAverage(window)

    def signal(self, close: float, long: bool) -> Side | None:
        average = self.sma.update(close)
        if average is None:
            return None
        if not long and close < average:
            return "BUY"
        if long and close > average:
            return "SELL"
        return None
