"""The replay of market data along a clock, without HTTP: what the server answers.

The clock walks the timeline, the sorted union of the distinct bar timestamps of all symbols.
Step k (1..n) means the first k instants of the timeline have happened: every bar at or before
`timeline[k - 1]` is available. With `rate` steps per second the first instant is available at
once and one more every 1/rate seconds; `rate == 0` puts the clock at the end, so all data is
available at once (what fast tests want).

Quotes and bars are served in the shape of the IEX Cloud API the article used (`latestPrice`,
`latestVolume`, `latestUpdate` in epoch milliseconds, `open`, `high`, `low`, `close`).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable

from kafkatrade.config import ConfigError
from kafkatrade.marketdata import Bar, MarketData
from kafkatrade.models import epoch_ms, format_time, from_epoch_ms


def check_rate(rate: float) -> float:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate):
        raise ConfigError(f"rate must be a number of timeline steps per second, not {rate!r}")
    if rate < 0:
        raise ConfigError(f"rate must be 0 (all data at once) or more steps per second, not {rate}")
    return float(rate)


class ReplayClock:
    """How many instants of a timeline of `steps` instants have happened.

    `now` is a monotonic clock in seconds (injectable for tests); the replay starts at
    `started_at`, by default when the clock is made.
    """

    def __init__(
        self,
        steps: int,
        rate: float,
        now: Callable[[], float] = time.monotonic,
        started_at: float | None = None,
    ) -> None:
        self.steps = steps
        self.rate = check_rate(rate)
        self._now = now
        self.started_at = now() if started_at is None else started_at

    def step(self) -> int:
        if self.rate == 0:
            return self.steps
        elapsed = max(0.0, self._now() - self.started_at)
        return min(self.steps, 1 + math.floor(elapsed * self.rate))


def quote_document(symbol: str, bar: Bar | None) -> dict:
    """A bar as an IEX quote; all values null when the symbol has no bar yet."""
    if bar is None:
        return {
            "symbol": symbol,
            "latestPrice": None,
            "latestVolume": None,
            "latestUpdate": None,
            "open": None,
            "high": None,
            "low": None,
            "close": None,
        }
    volume = float(bar.volume)
    return {
        "symbol": symbol,
        "latestPrice": bar.close,
        # IEX volumes are integers; keep a fractional volume (crypto, FX) as it is.
        "latestVolume": int(volume) if volume.is_integer() else volume,
        "latestUpdate": epoch_ms(bar.timestamp),
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
    }


class _Series:
    """One symbol's bars as ready-made quote documents, searchable by time."""

    def __init__(self, symbol: str, bars: tuple[Bar, ...]) -> None:
        self.times = [epoch_ms(bar.timestamp) for bar in bars]
        self.quotes = [quote_document(symbol, bar) for bar in bars]
        self.empty = quote_document(symbol, None)

    def latest(self, clock_ms: int | None) -> dict:
        if clock_ms is None:
            return self.empty
        index = bisect.bisect_right(self.times, clock_ms)
        return self.quotes[index - 1] if index else self.empty

    def between(self, since_ms: int | None, clock_ms: int | None) -> list[dict]:
        """The bars newer than `since_ms` (all when None) and at or before the clock."""
        if clock_ms is None:
            return []
        start = 0 if since_ms is None else bisect.bisect_right(self.times, since_ms)
        end = bisect.bisect_right(self.times, clock_ms)
        return self.quotes[start:end]


class Replay:
    """Market data replayed along a `ReplayClock`; thread-safe, as it never changes."""

    def __init__(
        self, data: MarketData, rate: float, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.data = data
        self.timeline = [epoch_ms(moment) for moment in data.timeline()]
        self.clock = ReplayClock(len(self.timeline), rate, now)
        self._series = {symbol: _Series(symbol, bars) for symbol, bars in data.items()}
        self._bar_count = data.bar_count

    def symbol(self, requested: str) -> str | None:
        """The symbol as the data spells it (`aapl` is `AAPL`), or None when unknown."""
        symbol = requested.strip().upper()
        return symbol if symbol in self._series else None

    def clock_ms(self) -> int | None:
        """The current instant of the timeline in epoch ms; None before the first one."""
        step = self.clock.step()
        return self.timeline[step - 1] if step else None

    def quote(self, symbol: str, clock_ms: int | None) -> dict:
        return self._series[symbol].latest(clock_ms)

    def bars(self, symbol: str, since_ms: int | None, clock_ms: int | None) -> list[dict]:
        return self._series[symbol].between(since_ms, clock_ms)

    def status(self) -> dict:
        step = self.clock.step()
        clock = self.timeline[step - 1] if step else None
        return {
            "clock": None if clock is None else format_time(from_epoch_ms(clock)),
            "step": step,
            "steps": len(self.timeline),
            "finished": step == len(self.timeline),
            "symbols": len(self._series),
            "bars": self._bar_count,
            "rate": self.clock.rate,
        }
