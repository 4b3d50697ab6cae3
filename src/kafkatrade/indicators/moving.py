"""Moving averages: simple (running sum) and exponential (seeded with the SMA)."""

from __future__ import annotations

from collections import deque


def check_period(period: int, minimum: int = 2) -> int:
    if isinstance(period, bool) or not isinstance(period, int) or period < minimum:
        raise ValueError(f"period must be an integer of at least {minimum}, not {period!r}")
    return period


class SMA:
    """Mean of the last `period` closes, the current one included (Ta4j, TA-Lib).

    A running sum, updated as TA-Lib's does: the new close is added, the mean taken, then the
    close leaving the window subtracted. The values are TA-Lib's, bit for bit.
    """

    __slots__ = ("_sum", "_window", "period", "value", "warmup")

    def __init__(self, period: int) -> None:
        self.period = check_period(period)
        self.warmup = period - 1
        self.value: float | None = None
        self._window: deque[float] = deque()
        self._sum = 0.0

    def update(self, close: float) -> float | None:
        """Adds a close; the average once `period` closes were seen, else None."""
        window = self._window
        window.append(close)
        self._sum += close
        if len(window) < self.period:
            return None
        self.value = self._sum / self.period
        self._sum -= window.popleft()
        return self.value


class EMA:
    """Exponential moving average, k = 2 / (period + 1), as TA-Lib's default: the first value
    (bar `period - 1`) is the SMA of the first `period` closes, then
    `ema = (close - ema) * k + ema`."""

    __slots__ = ("_count", "_seed", "k", "period", "value", "warmup")

    def __init__(self, period: int) -> None:
        self.period = check_period(period)
        self.warmup = period - 1
        self.k = 2.0 / (period + 1)
        self.value: float | None = None
        self._count = 0
        self._seed = 0.0

    def update(self, close: float) -> float | None:
        value = self.value
        if value is not None:
            self.value = value = (close - value) * self.k + value
            return value
        self._seed += close
        self._count += 1
        if self._count < self.period:
            return None
        self.value = self._seed / self.period
        return self.value
