"""The article's Ta4j SMA(10) rules, in the text's direction and in the code's literal one."""

from __future__ import annotations

from kafkatrade.indicators import SMA
from kafkatrade.models import Side
from kafkatrade.strategies.base import BaseStrategy, period

# The name the first version used; the indicator now lives in kafkatrade.indicators.
SimpleMovingAverage = SMA


class SmaTrend(BaseStrategy):
    """`sma_trend(window=10)`, the article's text: SMA over the last `window` closes, the
    current bar's included. Flat and close > SMA: BUY. Long and close < SMA: SELL. A close
    equal to the SMA signals nothing; no signal before bar `window` (1-based). These are level
    rules, not crossings: flat with the close above the SMA buys on any bar."""

    kind = name = "sma_trend"
    params = (period("window", 10),)

    def __init__(self, **values: int) -> None:
        super().__init__(**values)
        self.sma = SMA(self.values["window"])
        self.warmup = self.sma.warmup

    def signal(self, close: float, long: bool) -> Side | None:
        average = self.sma.update(close)
        if average is None:
            return None
        if not long and close > average:
            return "BUY"
        if long and close < average:
            return "SELL"
        return None

    def indicator_values(self) -> dict[str, float]:
        return {} if self.sma.value is None else {"sma": self.sma.value}


class SmaReversion(SmaTrend):
    """`sma_reversion(window=10)`, the article's code taken literally: `OverIndicatorRule(sma,
    close)` enters when the SMA is above the close. Flat and close < SMA: BUY. Long and
    close > SMA: SELL. Equality signals nothing; no signal before bar `window`."""

    kind = name = "sma_reversion"

    def signal(self, close: float, long: bool) -> Side | None:
        average = self.sma.update(close)
        if average is None:
            return None
        if not long and close < average:
            return "BUY"
        if long and close > average:
            return "SELL"
        return None
