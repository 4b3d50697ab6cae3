"""Bollinger Bands: SMA middle band, population standard deviation, as TA-Lib's BBANDS."""

from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

from kafkatrade.indicators.moving import check_period


class Bands(NamedTuple):
    upper: float
    middle: float
    lower: float


class BollingerBands:
    """Middle = SMA(period); upper/lower = middle +/- k * stdev, where stdev is the population
    standard deviation of the window (ddof 0), computed as TA-Lib does: running sums of the
    closes and of their squares, variance = mean(x^2) - middle^2, and 0 when that is below
    1e-8 (TA-Lib's TA_IS_ZERO_OR_NEG), so flat prices give bands equal to the middle."""

    __slots__ = ("_squares", "_sum", "_window", "k", "period", "value", "warmup")

    def __init__(self, period: int = 20, k: float = 2.0) -> None:
        self.period = check_period(period)
        if not (isinstance(k, int | float) and math.isfinite(k) and k > 0):
            raise ValueError(f"k must be a positive number, not {k!r}")
        self.k = float(k)
        self.warmup = period - 1
        self.value: Bands | None = None
        self._window: deque[float] = deque()
        self._sum = 0.0
        self._squares = 0.0

    def update(self, close: float) -> Bands | None:
        window = self._window
        window.append(close)
        self._sum += close
        self._squares += close * close
        if len(window) < self.period:
            return None
        middle = self._sum / self.period
        variance = self._squares / self.period
        leaving = window.popleft()
        self._sum -= leaving
        self._squares -= leaving * leaving
        variance -= middle * middle
        deviation = math.sqrt(variance) if variance >= 1e-8 else 0.0
        width = deviation * self.k
        self.value = Bands(middle + width, middle, middle - width)
        return self.value
