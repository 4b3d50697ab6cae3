"""Strategies that act when one series crosses another (ta4j's CrossedUp/CrossedDown rules,
strict comparisons, see `Crossing`). Every rule below is evaluated on each closed bar; the
indicators are fed every bar whatever the position, and a strategy gives no signal before
its indicators are warm (`warmup` bars)."""

from __future__ import annotations

from kafkatrade.indicators import EMA, MACD, RSI, BollingerBands
from kafkatrade.models import Side
from kafkatrade.strategies.base import BaseStrategy, Crossing, Param, StrategyError, period


def _act(crossed: int, long: bool, buy_on: int) -> Side | None:
    if not long and crossed == buy_on:
        return "BUY"
    if long and crossed == -buy_on:
        return "SELL"
    return None


class EmaCross(BaseStrategy):
    """`ema_cross(fast=12, slow=26)`: EMA(fast) and EMA(slow) of the close (TA-Lib's EMA).
    Flat and EMA(fast) crosses above EMA(slow): BUY. Long and it crosses below: SELL.
    The crossing is watched from bar `slow` (1-based), the first with both EMAs, so the
    first possible signal is on bar `slow + 1`."""

    kind = "ema_cross"
    params = (period("fast", 12), period("slow", 26))

    @classmethod
    def check_together(cls, values: dict, spec: str) -> None:
        if values["fast"] >= values["slow"]:
            raise StrategyError(
                f"strategy {spec!r}: fast ({values['fast']}) must be less than "
                f"slow ({values['slow']})"
            )

    def __init__(self, **values: int) -> None:
        super().__init__(**values)
        self.fast = EMA(self.values["fast"])
        self.slow = EMA(self.values["slow"])
        self.crossing = Crossing()
        self.warmup = self.slow.warmup + 1

    def signal(self, close: float, long: bool) -> Side | None:
        fast = self.fast.update(close)
        slow = self.slow.update(close)
        if fast is None or slow is None:
            return None
        return _act(self.crossing.update(fast, slow), long, buy_on=1)

    def indicator_values(self) -> dict[str, float]:
        if self.slow.value is None:
            return {}
        return {"ema_fast": self.fast.value, "ema_slow": self.slow.value}


class RsiReversion(BaseStrategy):
    """`rsi_reversion(period=14, low=30, high=70)`: Wilder's RSI(period) (TA-Lib's).
    Flat and RSI crosses down below `low` (oversold): BUY. Long and RSI crosses up above
    `high` (overbought): SELL. A crossing needs an earlier RSI on the other side of the
    level: RSI equal to the level is skipped, and the first RSI (bar `period + 1`) is never a
    crossing. 0 < low < high < 100."""

    kind = "rsi_reversion"
    params = (
        period("period", 14),
        Param("low", float, 30.0, above=0.0, below=100.0),
        Param("high", float, 70.0, above=0.0, below=100.0),
    )

    @classmethod
    def check_together(cls, values: dict, spec: str) -> None:
        if values["low"] >= values["high"]:
            raise StrategyError(
                f"strategy {spec!r}: low ({values['low']:g}) must be less than "
                f"high ({values['high']:g})"
            )

    def __init__(self, **values: int | float) -> None:
        super().__init__(**values)
        self.rsi = RSI(self.values["period"])
        self.low, self.high = self.values["low"], self.values["high"]
        self.below_low = Crossing()
        self.above_high = Crossing()
        self.warmup = self.rsi.warmup + 1

    def signal(self, close: float, long: bool) -> Side | None:
        rsi = self.rsi.update(close)
        if rsi is None:
            return None
        down = self.below_low.update(rsi, self.low) == -1
        up = self.above_high.update(rsi, self.high) == 1
        if not long and down:
            return "BUY"
        if long and up:
            return "SELL"
        return None

    def indicator_values(self) -> dict[str, float]:
        return {} if self.rsi.value is None else {"rsi": self.rsi.value}


class MacdSignal(BaseStrategy):
    """`macd_signal(fast=12, slow=26, signal=9)`: TA-Lib's MACD. Flat and the MACD line
    crosses above its signal line: BUY. Long and it crosses below: SELL. MACD and signal
    first exist on bar `slow + signal - 1` (34 by default, TA-Lib's warm-up), so the first
    possible signal is on the bar after."""

    kind = "macd_signal"
    params = (period("fast", 12), period("slow", 26), period("signal", 9))

    check_together = EmaCross.check_together

    def __init__(self, **values: int) -> None:
        super().__init__(**values)
        v = self.values
        self.macd = MACD(v["fast"], v["slow"], v["signal"])
        self.crossing = Crossing()
        self.warmup = self.macd.warmup + 1

    def signal(self, close: float, long: bool) -> Side | None:
        value = self.macd.update(close)
        if value is None:
            return None
        return _act(self.crossing.update(value.macd, value.signal), long, buy_on=1)

    def indicator_values(self) -> dict[str, float]:
        value = self.macd.value
        return {} if value is None else value._asdict()


class BollingerReversion(BaseStrategy):
    """`bollinger_reversion(period=20, k=2)`: TA-Lib's Bollinger Bands (SMA(period) +/- k
    population standard deviations). Flat and the close crosses down below the lower band:
    BUY. Long and the close crosses up above the upper band: SELL. The bands first exist on
    bar `period`; the first possible signal is on the bar after."""

    kind = "bollinger_reversion"
    params = (period("period", 20), Param("k", float, 2.0, above=0.0))

    def __init__(self, **values: int | float) -> None:
        super().__init__(**values)
        self.bands = BollingerBands(self.values["period"], self.values["k"])
        self.below_lower = Crossing()
        self.above_upper = Crossing()
        self.warmup = self.bands.warmup + 1

    def signal(self, close: float, long: bool) -> Side | None:
        bands = self.bands.update(close)
        if bands is None:
            return None
        down = self.below_lower.update(close, bands.lower) == -1
        up = self.above_upper.update(close, bands.upper) == 1
        if not long and down:
            return "BUY"
        if long and up:
            return "SELL"
        return None

    def indicator_values(self) -> dict[str, float]:
        value = self.bands.value
        return {} if value is None else value._asdict()
