"""The default market data: the Yahoo Finance samples that ship inside matplotlib's wheel.

- `Stocks.csv`: monthly closes 1990-2022 of IBM, AAPL, MSFT, XRX, AMZN, DELL, GOOGL, ADBE,
  ^GSPC and ^IXIC, a wide CSV read by the same reader as a user's file (blank rows and gaps
  skipped, volume unknown so 0).
- `goog.npz`: GOOG daily open, high, low, close and volume, 2004-08-19 to 2008-10-14.

Eleven symbols in all (GOOGL and GOOG are distinct share classes); every bar is at 00:00 UTC
of its date.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from kafkatrade.marketdata.bars import Bar, MarketData
from kafkatrade.marketdata.files import BarCollector, read_file

GOOG_SYMBOL = "GOOG"
SOURCE = "matplotlib sample data (Stocks.csv, goog.npz)"


def sample_path(name: str) -> Path:
    """The path of one of matplotlib's sample data files."""
    # Imported here: matplotlib takes a quarter of a second to import, and only the default
    # data needs it.
    from matplotlib import cbook

    return Path(cbook.get_sample_data(name, asfileobj=False))


def load_default() -> MarketData:
    import numpy as np

    collector = BarCollector()
    read_file(sample_path("Stocks.csv"), collector)
    goog = sample_path("goog.npz")
    with np.load(goog) as archive:
        prices = archive["price_data"]
    for index, row in enumerate(prices):
        day = row["date"].astype("datetime64[D]").item()  # a datetime.date
        bar = Bar(
            timestamp=datetime(day.year, day.month, day.day, tzinfo=UTC),
            open=float(row["open"]),
            high=float(row["high"]),
            low=float(row["low"]),
            close=float(row["close"]),
            volume=float(row["volume"]),
        )
        collector.add(GOOG_SYMBOL, bar, f"{goog} row {index}")
    return collector.market_data(source=SOURCE)
