"""The default data: matplotlib's Stocks.csv and goog.npz, checked against the files."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import numpy as np
import pytest
from matplotlib import cbook

from kafkatrade.marketdata import Bar, load, load_default

STOCKS_CSV = cbook.get_sample_data("Stocks.csv", asfileobj=False)
GOOG_NPZ = cbook.get_sample_data("goog.npz", asfileobj=False)


def day(year: int, month: int, dom: int) -> datetime:
    return datetime(year, month, dom, tzinfo=UTC)


@pytest.fixture(scope="module")
def data():
    return load_default()


@pytest.fixture(scope="module")
def stocks_rows() -> tuple[list[str], list[list[str]]]:
    with open(STOCKS_CSV, newline="") as file:
        rows = [row for row in csv.reader(file) if row and not row[0].startswith("#")]
    return rows[0], rows[1:]


def test_the_default_data_has_the_ten_stocks_csv_symbols_and_goog(data, stocks_rows):
    header, _ = stocks_rows
    expected = ["IBM", "AAPL", "MSFT", "XRX", "AMZN", "DELL", "GOOGL", "ADBE", "^GSPC", "^IXIC"]
    assert header[1:] == expected
    assert set(data) == {*header[1:], "GOOG"}
    assert len(data) == 11


def test_each_stocks_csv_symbol_has_one_bar_per_non_empty_cell(data, stocks_rows):
    header, body = stocks_rows
    for column, symbol in enumerate(header[1:], start=1):
        expected = sum(1 for row in body if row[column].strip())
        assert len(data[symbol]) == expected, symbol


def test_goog_has_one_bar_per_row_of_goog_npz(data):
    with np.load(GOOG_NPZ) as archive:
        rows = len(archive["price_data"])
    assert rows == 1047
    assert len(data["GOOG"]) == 1047


def test_the_total_is_the_sum_of_the_symbols(data):
    assert data.bar_count == sum(len(bars) for bars in data.values())
    assert data.bar_count == 4372  # 7 x 391 + AMZN 302 + DELL 71 + GOOGL 215 + GOOG 1047


def test_blank_rows_of_stocks_csv_are_skipped(data, stocks_rows):
    header, body = stocks_rows
    blank_dates = {row[0] for row in body if not any(cell.strip() for cell in row[1:])}
    assert "1990-02-05" in blank_dates and "2016-08-08" in blank_dates  # as in the file
    seen = {bar.timestamp.date().isoformat() for symbol in header[1:] for bar in data[symbol]}
    assert not blank_dates & seen
    assert len(seen) == len(body) - len(blank_dates)


def test_first_and_last_closes_match_the_file(data):
    assert data["IBM"][0] == Bar(day(1990, 1, 1), None, None, None, 10.970438003540039, 0.0)
    assert data["^IXIC"][-1].timestamp == day(2022, 6, 28)
    assert data["^IXIC"][-1].close == 11181.5400390625
    # Gaps: AMZN, GOOGL and DELL start later than the file.
    assert (data["AMZN"][0].timestamp, data["AMZN"][0].close) == (
        day(1997, 6, 1),
        0.07708299905061722,
    )
    assert (data["GOOGL"][0].timestamp, data["GOOGL"][0].close) == (
        day(2004, 9, 1),
        64.8648681640625,
    )
    assert (data["DELL"][0].timestamp, data["DELL"][0].close) == (
        day(2016, 9, 1),
        13.321450233459473,
    )


def test_goog_bars_have_full_ohlcv(data):
    assert data["GOOG"][0] == Bar(day(2004, 8, 19), 100.0, 104.06, 95.96, 100.34, 22351900.0)
    assert data["GOOG"][-1] == Bar(day(2008, 10, 14), 393.53, 394.5, 357.0, 362.71, 7784800.0)


def test_bars_are_in_time_order_at_midnight_utc(data):
    for symbol, bars in data.items():
        times = [bar.timestamp for bar in bars]
        assert times == sorted(set(times)), symbol
        assert all(t.tzinfo == UTC and (t.hour, t.minute) == (0, 0) for t in times)


def test_load_without_a_path_is_the_default_data(data):
    default = load(None)
    assert dict(default) == dict(data)
    assert default.symbols == data.symbols


def test_a_bar_is_a_quote_at_its_close(data):
    quote = data["GOOG"][0].to_quote("GOOG", source="replay")
    assert (quote.symbol, quote.price, quote.volume) == ("GOOG", 100.34, 22351900)
    assert (quote.open, quote.high, quote.low, quote.close) == (100.0, 104.06, 95.96, 100.34)
    assert quote.to_dict()["timestamp"] == "2004-08-19T00:00:00Z"
