"""`--data PATH`: Yahoo, long and wide CSV files and folders of them, and their errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kafkatrade.marketdata import Bar, DataFormatError, load


def day(year: int, month: int, dom: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, dom, hour, minute, tzinfo=UTC)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


YAHOO_AAPL = """\
Date,Open,High,Low,Close,Adj Close,Volume
2024-01-04,182.15,183.09,180.88,181.91,181.18,71983600
2024-01-02,187.15,188.44,183.89,185.64,184.94,82488700
2024-01-01,null,null,null,null,null,null
2024-01-03,184.22,185.88,183.43,184.25,183.56,58414500
2024-01-05,,,,,,
"""


def test_a_yahoo_csv_is_one_symbol_named_by_the_file(tmp_path):
    data = load(write(tmp_path, "AAPL.csv", YAHOO_AAPL))
    assert list(data) == ["AAPL"]
    assert data["AAPL"] == (
        Bar(day(2024, 1, 2), 187.15, 188.44, 183.89, 185.64, 82488700.0),
        Bar(day(2024, 1, 3), 184.22, 185.88, 183.43, 184.25, 58414500.0),
        Bar(day(2024, 1, 4), 182.15, 183.09, 180.88, 181.91, 71983600.0),
    )  # sorted; the null and empty rows skipped; Close, not Adj Close, is the price
    assert data.source == str(tmp_path / "AAPL.csv")


@pytest.mark.parametrize(
    ("file_name", "symbol"),
    [("BRK.B.csv", "BRK.B"), ("^GSPC.csv", "^GSPC"), ("msft.csv", "MSFT"), ("RDS-A.CSV", "RDS-A")],
)
def test_the_symbol_of_a_yahoo_csv_is_its_upper_cased_file_stem(tmp_path, file_name, symbol):
    text = "Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,100\n"  # no Adj Close
    data = load(write(tmp_path, file_name, text))
    assert data.symbols == (symbol,)
    assert data[symbol] == (Bar(day(2024, 1, 2), 10.0, 11.0, 9.0, 10.5, 100.0),)


def test_a_yahoo_row_with_a_close_but_no_volume_keeps_the_close(tmp_path):
    text = "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,null,11,9,10.5,10.4,null\n"
    data = load(write(tmp_path, "X.csv", text))
    assert data["X"] == (Bar(day(2024, 1, 2), None, 11.0, 9.0, 10.5, 0.0),)


LONG = """\
timestamp,symbol,price,volume
2024-05-01T14:30:00Z,^GSPC,5018.39,0
2024-05-01T14:30:00Z,BRK.B,404.1,1200
2024-05-01T16:31:00+02:00,BRK.B,404.5,300
2024-05-01 14:32:00,brk.b,,
2024-05-01 14:33:00,BRK.B,405,
"""


def test_a_long_csv_has_one_quote_per_row_in_utc(tmp_path):
    data = load(write(tmp_path, "quotes.csv", LONG))
    assert set(data) == {"^GSPC", "BRK.B"}
    assert data["^GSPC"] == (Bar(day(2024, 5, 1, 14, 30), None, None, None, 5018.39, 0.0),)
    assert data["BRK.B"] == (
        Bar(day(2024, 5, 1, 14, 30), None, None, None, 404.1, 1200.0),
        Bar(day(2024, 5, 1, 14, 31), None, None, None, 404.5, 300.0),  # +02:00 made UTC
        Bar(day(2024, 5, 1, 14, 33), None, None, None, 405.0, 0.0),  # naive = UTC
    )  # the row without a price is skipped


def test_a_long_csv_without_volume_and_in_another_column_order(tmp_path):
    text = "symbol,price,timestamp\nAAPL,189.5,2024-05-01\n"
    data = load(write(tmp_path, "q.csv", text))
    assert data["AAPL"] == (Bar(day(2024, 5, 1), None, None, None, 189.5, 0.0),)


WIDE = """\
# Data source: a test
Date,IBM,^GSPC,BRK.B
1990-01-01,10.97,329.08,
1990-02-05,,,
1990-02-01,11.55,,2.5
"""


def test_a_wide_csv_has_one_symbol_per_column_and_skips_gaps_and_blank_rows(tmp_path):
    data = load(write(tmp_path, "wide.csv", WIDE))
    assert data.symbols == ("IBM", "^GSPC", "BRK.B")  # the column order
    assert data["IBM"] == (
        Bar(day(1990, 1, 1), None, None, None, 10.97, 0.0),
        Bar(day(1990, 2, 1), None, None, None, 11.55, 0.0),
    )
    assert data["^GSPC"] == (Bar(day(1990, 1, 1), None, None, None, 329.08, 0.0),)
    assert data["BRK.B"] == (Bar(day(1990, 2, 1), None, None, None, 2.5, 0.0),)


def test_a_folder_reads_all_its_csv_files(tmp_path):
    write(tmp_path, "AAPL.csv", YAHOO_AAPL)
    write(tmp_path, "quotes.csv", LONG)
    write(tmp_path, "wide.csv", WIDE)
    write(tmp_path, "README.txt", "not data")
    data = load(tmp_path)
    assert set(data) == {"AAPL", "^GSPC", "BRK.B", "IBM"}
    assert len(data["AAPL"]) == 3
    assert len(data["BRK.B"]) == 4  # 3 from the long file, 1 from the wide one
    assert data.bar_count == 3 + 4 + 1 + 2 + 1
    assert data["^GSPC"][0].timestamp == day(1990, 1, 1)


def test_the_timeline_is_the_sorted_union_of_distinct_times(tmp_path):
    data = load(write(tmp_path, "wide.csv", WIDE))
    assert data.timeline() == (day(1990, 1, 1), day(1990, 2, 1))


# Errors: one line, naming the file, the line where relevant, and what was expected.


def error_of(path: Path) -> str:
    with pytest.raises(DataFormatError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_missing_file(tmp_path):
    message = error_of(tmp_path / "nope.csv")
    assert message == f"{tmp_path / 'nope.csv'}: no such file or folder"


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_an_empty_file(tmp_path, text):
    path = write(tmp_path, "AAPL.csv", text)
    assert error_of(path).startswith(f"{path}: empty file; expected a Yahoo CSV")


def test_a_header_without_rows_has_no_bars(tmp_path):
    path = write(tmp_path, "AAPL.csv", "Date,Open,High,Low,Close,Adj Close,Volume\n")
    assert error_of(path) == f"{path}: no bars (every row is empty or null)"


@pytest.mark.parametrize(
    "header", ["time,ticker,last", "Open,High,Low,Close,Volume", "Date", "Date,Open,Close"]
)
def test_an_unknown_format(tmp_path, header):
    path = write(tmp_path, "data.csv", f"{header}\n1,2,3\n")
    message = error_of(path)
    assert message.startswith(f"{path} line 1: ")
    assert "expected a Yahoo CSV (Date,Open,High,Low,Close,Adj Close,Volume)" in message
    assert "a long CSV (timestamp,symbol,price[,volume])" in message


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "AAPL.csv",
            "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,1,2,0.5,abc,1,10\n",
            "line 2: Close 'abc' is not a number",
        ),
        (
            "AAPL.csv",
            "# comment\nDate,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n"
            "2024-01-03,1,2,0.5,1.5,-10\n",
            "line 4: Volume '-10' is not a volume of 0 or more",
        ),
        (
            "q.csv",
            "timestamp,symbol,price\n2024-01-02,AAPL,0\n",
            "line 2: price '0' is not a positive price",
        ),
        (
            "q.csv",
            "timestamp,symbol,price\n2024-01-02,AAPL,inf\n",
            "line 2: price 'inf' is not a positive price",
        ),
        (
            "q.csv",
            "timestamp,symbol,price\n2024-01-02,AAPL,1\n2024-13-02,AAPL,2\n",
            "line 3: '2024-13-02' is not an ISO 8601 date or time such as 2024-05-01",
        ),
        (
            "wide.csv",
            "Date,IBM\n1990-01-01,1\n02/01/1990,2\n",
            "line 3: '02/01/1990' is not an ISO 8601 date",
        ),
        (
            "q.csv",
            "timestamp,symbol,price\n2024-01-02,AA PL,1\n",
            "line 2: symbol 'AA PL' is not a symbol: expected an upper-case ticker",
        ),
        (
            "wide.csv",
            "Date,IBM,MSFT\n1990-01-01,1\n",
            "line 2: expected 3 values (Date,IBM,MSFT), found 2",
        ),
        (
            "wide.csv",
            "Date,IBM,IBM\n1990-01-01,1,2\n",
            "line 1: column IBM appears twice",
        ),
        (
            "my data.csv",
            "Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n",
            ": the file name 'my data' is not a symbol",
        ),
    ],
)
def test_a_bad_value_names_the_file_and_line(tmp_path, name, text, expected):
    path = write(tmp_path, name, text)
    message = error_of(path)
    assert message.startswith(str(path))
    assert expected in message


def test_a_second_bar_at_the_same_time_names_both_lines(tmp_path):
    text = "timestamp,symbol,price\n2024-01-02,AAPL,1\n2024-01-02T00:00:00Z,AAPL,2\n"
    path = write(tmp_path, "q.csv", text)
    assert error_of(path) == (
        f"{path} line 3: a second bar of AAPL at 2024-01-02T00:00:00Z "
        f"(the first is at {path} line 2); keep one bar per symbol and time"
    )


def test_a_second_bar_across_files_of_a_folder_names_both_files(tmp_path):
    write(tmp_path, "AAPL.csv", YAHOO_AAPL)
    write(tmp_path, "more.csv", "timestamp,symbol,price\n2024-01-03,AAPL,1\n")
    message = error_of(tmp_path)
    assert re.fullmatch(
        rf"{re.escape(str(tmp_path / 'more.csv'))} line 2: a second bar of AAPL at "
        rf"2024-01-03T00:00:00Z \(the first is at {re.escape(str(tmp_path / 'AAPL.csv'))} "
        r"line 5\); keep one bar per symbol and time",
        message,
    )


def test_a_folder_without_csv_files(tmp_path):
    write(tmp_path, "notes.txt", "x")
    assert error_of(tmp_path).startswith(f"{tmp_path}: the folder has no .csv files")


def test_a_binary_file(tmp_path):
    path = tmp_path / "AAPL.csv"
    path.write_bytes(b"\xff\xfe\x00\x01garbage")
    assert error_of(path).startswith(f"{path}: not a UTF-8 text file")
