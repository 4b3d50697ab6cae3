"""The common form of market data: per symbol, its bars in time order."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from kafkatrade.models import Quote, format_time


class DataFormatError(ValueError):
    """A data file a user gave cannot be read; the one-line message says where and why."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a symbol; `close` is always set and is the bar's price.

    `open`, `high` and `low` are None when the source only has closes (Stocks.csv, long CSV);
    `volume` is 0 when the source does not know it.
    """

    timestamp: datetime
    open: float | None
    high: float | None
    low: float | None
    close: float
    volume: float

    @property
    def price(self) -> float:
        return self.close

    def to_quote(self, symbol: str, source: str) -> Quote:
        return Quote(
            symbol=symbol,
            price=self.close,
            volume=self.volume,
            timestamp=self.timestamp,
            source=source,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
        )


class MarketData(Mapping[str, tuple[Bar, ...]]):
    """Read-only mapping symbol -> bars, oldest first, at most one bar per timestamp.

    `source` says where the data came from (a path, or the default sample data), for logs.
    """

    def __init__(self, bars: Mapping[str, Iterable[Bar]], source: str = "") -> None:
        self._bars: dict[str, tuple[Bar, ...]] = {}
        for symbol, series in bars.items():
            ordered = tuple(sorted(series, key=lambda bar: bar.timestamp))
            for before, after in itertools.pairwise(ordered):
                if before.timestamp == after.timestamp:
                    raise ValueError(f"{symbol} has two bars at {format_time(after.timestamp)}")
            self._bars[symbol] = ordered
        self.source = source

    def __getitem__(self, symbol: str) -> tuple[Bar, ...]:
        return self._bars[symbol]

    def __iter__(self) -> Iterator[str]:
        return iter(self._bars)

    def __len__(self) -> int:
        return len(self._bars)

    def __repr__(self) -> str:
        return f"MarketData({len(self)} symbols, {self.bar_count} bars, source={self.source!r})"

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._bars)

    @property
    def bar_count(self) -> int:
        return sum(len(series) for series in self._bars.values())

    def timeline(self) -> tuple[datetime, ...]:
        """The distinct timestamps of all bars of all symbols, oldest first."""
        return tuple(sorted({bar.timestamp for series in self._bars.values() for bar in series}))
