"""Bars built from quotes: a bar per quote ("tick", the article's way) or time bars.

Time bars (`1m`, `5m`, `15m`, `1h`, `1d`) group a symbol's quotes by event time: a quote's
window is its timestamp floored to the period, in UTC from the Unix epoch (a `1d` bar is a
UTC calendar day). A bar is built from the quotes' prices (open = first, high = max,
low = min, close = last) and volumes (summed; a zero-volume quote is a price like any
other). It closes when the first quote of a later window arrives; a window without quotes
makes no bar. Quotes are never reordered:

- a quote older than the open bar's window is *late*: counted and dropped;
- a quote of the open bar's window that is not newer than its last quote is *stale*
  (a duplicate or replay): ignored, as the tick bars ignore it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kafkatrade.models import Quote

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PERIODS: dict[str, timedelta | None] = {
    "tick": None,
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}


def check_bar(bar: str) -> str:
    """The bar setting itself when known; ValueError with the choices otherwise."""
    if bar not in PERIODS:
        raise ValueError(f"unknown bar {bar!r}; choose one of {', '.join(PERIODS)}")
    return bar


def window_start(moment: datetime, period: timedelta) -> datetime:
    """`moment` floored to a multiple of `period` since the epoch, in UTC (exact: timedelta
    arithmetic is in whole microseconds)."""
    return moment - (moment - EPOCH) % period


@dataclass(slots=True)
class Bar:
    """One closed (or open) bar of a symbol. `time` is the bar's time: the window start for
    time bars, the quote's timestamp for tick bars. `last_quote` is the time of its last
    quote; `closed_by` the time of the quote that closed it (a tick bar closes itself)."""

    symbol: str
    time: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    quotes: int
    last_quote: datetime
    closed_by: datetime | None = None

    @classmethod
    def of(cls, quote: Quote, time: datetime) -> Bar:
        p = quote.price
        return cls(quote.symbol, time, p, p, p, p, quote.volume, 1, quote.timestamp)

    def add(self, quote: Quote) -> None:
        p = quote.price
        self.high = max(self.high, p)
        self.low = min(self.low, p)
        self.close = p
        self.volume += quote.volume
        self.quotes += 1
        self.last_quote = quote.timestamp


class BarBuilder:
    """One symbol's bars: `add(quote)` returns the bar the quote closed, if any, and why a
    quote was not used (`"late"`, `"stale"`) through `last_drop`."""

    __slots__ = ("last_drop", "open_bar", "period")

    def __init__(self, bar: str = "tick") -> None:
        self.period = PERIODS[check_bar(bar)]
        self.open_bar: Bar | None = None
        self.last_drop: str | None = None

    def add(self, quote: Quote) -> Bar | None:
        self.last_drop = None
        current = self.open_bar
        if self.period is None:
            if current is not None and quote.timestamp <= current.last_quote:
                self.last_drop = "late" if quote.timestamp < current.last_quote else "stale"
                return None
            bar = self.open_bar = Bar.of(quote, quote.timestamp)
            bar.closed_by = quote.timestamp
            return bar
        start = window_start(quote.timestamp, self.period)
        if current is None:
            self.open_bar = Bar.of(quote, start)
            return None
        if start < current.time:
            self.last_drop = "late"
            return None
        if start == current.time:
            if quote.timestamp <= current.last_quote:
                self.last_drop = "stale"
                return None
            current.add(quote)
            return None
        current.closed_by = quote.timestamp
        self.open_bar = Bar.of(quote, start)
        return current
