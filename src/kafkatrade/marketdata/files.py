"""Market data from CSV files, as given with `--data PATH`.

Three formats, told apart by their header line (lines starting with `#` are comments):

- **Yahoo** (one file per symbol, symbol = file stem upper-cased: `AAPL.csv`, `BRK.B.csv`,
  `^GSPC.csv`): `Date,Open,High,Low,Close,Adj Close,Volume` (`Adj Close` optional, any column
  order). The bar's price is `Close`, consistent with `Open`, `High` and `Low`; `Adj Close` is
  ignored. A row without a close (Yahoo writes `null` on holidays) is skipped; a missing open,
  high or low is None, a missing volume 0.
- **Long**: `timestamp,symbol,price[,volume]`; a row without a price is skipped.
- **Wide** (like matplotlib's Stocks.csv): `Date` then one column per symbol, one close per
  cell; an empty cell is a gap and is skipped, and so is a row of empty cells.

`PATH` is a file in one of these formats or a folder whose `*.csv` files are read together.
Empty, `null` and `NaN` cells are missing values. Times are ISO 8601 dates or date-times; a
time without a zone is UTC. Symbols from file names and from the long format's `symbol` column
are upper-cased; a wide CSV's columns must be upper-case tickers as written, which is also how a
Yahoo CSV that lacks a column (`Date,Open,Close`) is told apart from a wide one.

A second bar for the same symbol and time (in one file or across files of a folder) is an
error that names both places: the data is ambiguous, and silently keeping one would hide a
mistake.

Anything else raises `DataFormatError` with one line naming the file, the line and what was
expected.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from kafkatrade.marketdata.bars import Bar, DataFormatError, MarketData
from kafkatrade.models import InvalidRecord, format_time, validate_symbol

MISSING = frozenset({"", "null", "nan"})
YAHOO_COLUMNS = frozenset({"date", "open", "high", "low", "close", "volume"})
LONG_COLUMNS = frozenset({"timestamp", "symbol", "price"})
TIME_COLUMNS = frozenset({"date", "timestamp"})
EXPECTED = (
    "expected a Yahoo CSV (Date,Open,High,Low,Close,Adj Close,Volume), "
    "a long CSV (timestamp,symbol,price[,volume]) or a wide CSV (Date,<symbol>,<symbol>,...)"
)


def load_path(path: Path | str) -> MarketData:
    """The market data of a CSV file or of all `*.csv` files of a folder."""
    path = Path(path)
    if path.is_dir():
        files = sorted(
            entry
            for entry in path.iterdir()
            if entry.is_file() and entry.suffix.lower() == ".csv" and not entry.name.startswith(".")
        )
        if not files:
            raise DataFormatError(f"{path}: the folder has no .csv files; {EXPECTED}")
    elif path.is_file():
        files = [path]
    else:
        raise DataFormatError(f"{path}: no such file or folder")
    collector = BarCollector()
    for file in files:
        read_file(file, collector)
    return collector.market_data(source=str(path))


class BarCollector:
    """Gathers bars from several files and refuses a second bar for a symbol and time."""

    def __init__(self) -> None:
        self._bars: dict[str, dict[datetime, tuple[Bar, str]]] = {}

    def add(self, symbol: str, bar: Bar, where: str) -> None:
        series = self._bars.setdefault(symbol, {})
        if bar.timestamp in series:
            first = series[bar.timestamp][1]
            raise DataFormatError(
                f"{where}: a second bar of {symbol} at {format_time(bar.timestamp)} "
                f"(the first is at {first}); keep one bar per symbol and time"
            )
        series[bar.timestamp] = (bar, where)

    @property
    def bar_count(self) -> int:
        return sum(len(series) for series in self._bars.values())

    def expect(self, symbol: str) -> None:
        """Reserves the symbol's place in the order of symbols (a wide CSV's column order)."""
        self._bars.setdefault(symbol, {})

    def market_data(self, source: str) -> MarketData:
        """The bars gathered so far; a symbol without any bar is left out."""
        return MarketData(
            {
                symbol: [bar for bar, _ in series.values()]
                for symbol, series in self._bars.items()
                if series
            },
            source=source,
        )


def read_file(path: Path, collector: BarCollector) -> None:
    """Adds the bars of one CSV file, whatever its format, to `collector`."""
    rows = _rows(path)
    try:
        line, header = next(rows)
    except StopIteration:
        raise DataFormatError(f"{path}: empty file; {EXPECTED}") from None
    names = [name.strip().lower() for name in header]
    before = collector.bar_count
    if set(names) - {"adj close"} == YAHOO_COLUMNS and len(names) == len(set(names)):
        _read_yahoo(path, names, rows, collector)
    elif set(names) - {"volume"} == LONG_COLUMNS and len(names) == len(set(names)):
        _read_long(path, names, rows, collector)
    elif len(names) > 1 and names[0] in TIME_COLUMNS:
        _read_wide(path, line, header, rows, collector)
    else:
        raise DataFormatError(
            f"{path} line {line}: unknown header {','.join(header)!r}; {EXPECTED}"
        )
    if collector.bar_count == before:
        raise DataFormatError(f"{path}: no bars (every row is empty or null)")


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of the non-blank, non-comment rows."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            try:
                for row in reader:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue
                    if row[0].lstrip().startswith("#"):
                        continue
                    yield reader.line_num, row
            except csv.Error as error:
                raise DataFormatError(f"{path} line {reader.line_num}: not CSV ({error})") from None
    except UnicodeDecodeError:
        raise DataFormatError(f"{path}: not a UTF-8 text file; {EXPECTED}") from None
    except OSError as error:
        raise DataFormatError(f"{path}: cannot read it ({error.strerror})") from None


def _read_yahoo(path: Path, names: list[str], rows, collector: BarCollector) -> None:
    symbol = _symbol(path.stem, f"{path}: the file name")
    column = {name: index for index, name in enumerate(names)}
    for line, row in rows:
        where = f"{path} line {line}"
        _check_width(row, names, where)
        close = _number(row[column["close"]], "Close", where, positive=True)
        if close is None:
            continue  # Yahoo's `null` rows: no trading that day
        volume = _number(row[column["volume"]], "Volume", where, positive=False)
        bar = Bar(
            timestamp=_time(row[column["date"]], where),
            open=_number(row[column["open"]], "Open", where, positive=True),
            high=_number(row[column["high"]], "High", where, positive=True),
            low=_number(row[column["low"]], "Low", where, positive=True),
            close=close,
            volume=volume or 0.0,
        )
        collector.add(symbol, bar, where)


def _read_long(path: Path, names: list[str], rows, collector: BarCollector) -> None:
    column = {name: index for index, name in enumerate(names)}
    for line, row in rows:
        where = f"{path} line {line}"
        _check_width(row, names, where)
        symbol = _symbol(row[column["symbol"]], f"{where}: symbol")
        price = _number(row[column["price"]], "price", where, positive=True)
        if price is None:
            continue
        volume = None
        if "volume" in column:
            volume = _number(row[column["volume"]], "volume", where, positive=False)
        bar = Bar(
            timestamp=_time(row[column["timestamp"]], where),
            open=None,
            high=None,
            low=None,
            close=price,
            volume=volume or 0.0,
        )
        collector.add(symbol, bar, where)


def _read_wide(path: Path, line: int, header: list[str], rows, collector: BarCollector) -> None:
    symbols = []
    for number, name in enumerate(header[1:], start=2):
        try:
            symbols.append(validate_symbol(name.strip()))
        except InvalidRecord:
            raise DataFormatError(
                f"{path} line {line}: column {number} {name!r} is not an upper-case ticker; "
                f"{EXPECTED}"
            ) from None
    if len(set(symbols)) != len(symbols):
        repeated = sorted({symbol for symbol in symbols if symbols.count(symbol) > 1})
        raise DataFormatError(f"{path} line {line}: column {', '.join(repeated)} appears twice")
    for symbol in symbols:
        collector.expect(symbol)
    for line_number, row in rows:
        where = f"{path} line {line_number}"
        _check_width(row, header, where)
        closes = [
            _number(cell, symbol, where, positive=True)
            for symbol, cell in zip(symbols, row[1:], strict=True)
        ]
        if all(close is None for close in closes):
            continue  # a blank row, as Stocks.csv has
        timestamp = _time(row[0], where)
        for symbol, close in zip(symbols, closes, strict=True):
            if close is not None:
                bar = Bar(
                    timestamp=timestamp, open=None, high=None, low=None, close=close, volume=0.0
                )
                collector.add(symbol, bar, where)


def _check_width(row: list[str], names: list[str], where: str) -> None:
    if len(row) != len(names):
        raise DataFormatError(
            f"{where}: expected {len(names)} values ({','.join(names)}), found {len(row)}"
        )


def _symbol(text: str, what: str) -> str:
    try:
        return validate_symbol(text.strip().upper())
    except InvalidRecord:
        raise DataFormatError(
            f"{what} {text!r} is not a symbol: expected an upper-case ticker such as AAPL, "
            "^GSPC or BRK.B"
        ) from None


def _number(text: str, name: str, where: str, *, positive: bool) -> float | None:
    """The cell as a finite number (a price > 0, a volume >= 0), or None when missing."""
    text = text.strip()
    if text.lower() in MISSING:
        return None
    try:
        number = float(text)
    except ValueError:
        raise DataFormatError(f"{where}: {name} {text!r} is not a number") from None
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        expected = "a positive price" if positive else "a volume of 0 or more"
        raise DataFormatError(f"{where}: {name} {text!r} is not {expected}")
    return number


def _time(text: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DataFormatError(
            f"{where}: {text!r} is not an ISO 8601 date or time such as 2024-05-01 or "
            "2024-05-01T14:30:00Z"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
