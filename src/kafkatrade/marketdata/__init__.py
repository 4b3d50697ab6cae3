"""Real market data in one common form, whatever its source.

`load(path)` reads the files a user gives (see `files`) or, without a path, the Yahoo Finance
samples inside matplotlib (see `default`). Either way the result is a `MarketData`: per
symbol, its `Bar`s oldest first, the bar's close being its price.
"""

from __future__ import annotations

from pathlib import Path

from kafkatrade.marketdata.bars import Bar, DataFormatError, MarketData
from kafkatrade.marketdata.default import load_default
from kafkatrade.marketdata.files import load_path

__all__ = ["Bar", "DataFormatError", "MarketData", "load", "load_default", "load_path"]


def load(path: Path | str | None = None) -> MarketData:
    """The bars of the files at `path` (a CSV file or a folder of them), or the default data.

    Raises `DataFormatError` with a one-line reason when the files cannot be read.
    """
    return load_default() if path is None else load_path(path)
