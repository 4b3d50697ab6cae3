"""Oscillators: Wilder's RSI and MACD, with TA-Lib's seeds and warm-ups."""

from __future__ import annotations

from typing import NamedTuple

from kafkatrade.indicators.moving import EMA, check_period

# TA-Lib's TA_IS_ZERO: |x| < 1e-8 counts as zero.
_ZERO = 1e-8


class RSI:
    """Relative Strength Index with Wilder's smoothing, as TA-Lib computes it.

    The first value (bar `period`) uses the plain means of the gains and of the losses over
    the first `period` price changes; then `avg = (avg * (period - 1) + change) / period`.
    RSI = 100 * gain / (gain + loss), and 0 when gain + loss is (nearly) zero: flat prices
    give 0, as in TA-Lib (pandas-ta-classic's own code gives NaN there).
    """

    __slots__ = ("_count", "_gain", "_loss", "_previous", "period", "value", "warmup")

    def __init__(self, period: int = 14) -> None:
        self.period = check_period(period)
        self.warmup = period
        self.value: float | None = None
        self._previous: float | None = None
        self._gain = 0.0
        self._loss = 0.0
        self._count = 0  # price changes seen, up to `period`

    def update(self, close: float) -> float | None:
        previous, self._previous = self._previous, close
        if previous is None:
            return None
        change = close - previous
        period = self.period
        if self._count < period:
            if change < 0:
                self._loss -= change
            else:
                self._gain += change
            self._count += 1
            if self._count < period:
                return None
            self._loss /= period
            self._gain /= period
        else:
            loss = self._loss * (period - 1)
            gain = self._gain * (period - 1)
            if change < 0:
                loss -= change
            else:
                gain += change
            self._loss = loss / period
            self._gain = gain / period
        total = self._gain + self._loss
        self.value = 100.0 * (self._gain / total) if not -_ZERO < total < _ZERO else 0.0
        return self.value


class MacdValue(NamedTuple):
    macd: float
    signal: float
    histogram: float


class MACD:
    """MACD line (fast EMA - slow EMA), its signal line (EMA of the MACD line) and the
    histogram (MACD - signal), as TA-Lib's `MACD(fast, slow, signal)`.

    TA-Lib starts the fast EMA on the bar where the slow one starts (bar `slow - 1`): it
    ignores the first `slow - fast` closes and seeds the fast EMA with the SMA of the `fast`
    closes that end there. The signal line is an EMA of the MACD values from bar `slow - 1`,
    and all three outputs begin together at bar `slow - 1 + signal - 1` (33 for 12, 26, 9).
    """

    __slots__ = ("_bars", "_fast", "_signal", "_skip", "_slow", "value", "warmup")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        check_period(fast)
        check_period(slow)
        check_period(signal, minimum=1)
        if fast >= slow:
            raise ValueError(f"fast period ({fast}) must be less than slow period ({slow})")
        self._fast = EMA(fast)
        self._slow = EMA(slow)
        self._signal = EMA(signal) if signal > 1 else None
        self._skip = slow - fast
        self._bars = 0
        self.warmup = slow - 1 + signal - 1
        self.value: MacdValue | None = None

    def update(self, close: float) -> MacdValue | None:
        self._bars += 1
        slow = self._slow.update(close)
        if self._bars <= self._skip:
            return None
        fast = self._fast.update(close)
        if slow is None or fast is None:
            return None
        line = fast - slow
        signal = self._signal.update(line) if self._signal is not None else line
        if signal is None:
            return None
        self.value = MacdValue(line, signal, line - signal)
        return self.value
