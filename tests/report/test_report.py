"""`kafkatrade report`: report.md, charts that decode, and one marker per order."""

from __future__ import annotations

from collections import Counter

import matplotlib.image
import pytest
from PIL import Image

from kafkatrade.backtest import QuoteSource, backtest
from kafkatrade.config import Settings
from kafkatrade.report import chart_name, indicators_of, write_report
from tests.support import kafkatrade

SETTINGS = Settings.load(environ={})


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    """Two symbols of 60 daily closes that swing, so both strategies trade several times."""
    rows = ["timestamp,symbol,price"]
    for symbol, base in (("AAA", 20.0), ("^IDX", 50.0)):
        for day in range(60):
            swing = (day % 14) - 7 if day % 28 < 14 else 7 - (day % 14)
            rows.append(f"2024-{1 + day // 28:02d}-{1 + day % 28:02d},{symbol},{base + swing}")
    path = tmp_path_factory.mktemp("data") / "swing.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def written(data_file, tmp_path_factory):
    evaluation = backtest(
        SETTINGS, QuoteSource("data", path=data_file), ["sma_trend", "sma_reversion"]
    )
    out = tmp_path_factory.mktemp("report")
    return evaluation, write_report(evaluation, out, "test data"), out


def test_report_files_exist_and_the_charts_decode(written):
    _, report, out = written
    assert report.path == out / "report.md"
    assert {path.name for path in report.charts} == {"AAA.png", "IDX.png", "total.png"}
    for path in report.charts:
        pixels = matplotlib.image.imread(path)
        assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.shape[1] > 600
        with Image.open(path) as image:
            image.verify()  # a complete, valid PNG
    text = report.path.read_text()
    assert "| AAA |" in text and "| \\^IDX |" in text and "| total |" in text
    assert "![^IDX](IDX.png)" in text and "![all symbols](total.png)" in text
    assert "sqrt(bars per year)" in text  # the Sharpe's annualization is stated


def test_one_marker_per_order(written):
    evaluation, report, _ = written
    per_symbol = Counter(order.symbol for order in evaluation.orders)
    assert sum(per_symbol.values()) > 4
    assert report.markers == dict(per_symbol)


def test_indicators_are_the_strategies_own():
    closes = [float(c) for c in range(1, 13)]
    (sma,) = indicators_of("sma_trend:window=3", closes)
    assert sma.label == "sma_trend:window=3 sma"
    assert sma.values[:3] == [None, None, 2.0]  # (1 + 2 + 3) / 3
    assert sma.values[-1] == 11.0  # (10 + 11 + 12) / 3
    (sma,) = indicators_of("sma_reversion", closes)
    assert sma.values[8:10] == [None, 5.5]  # warm-up: no value before the 10th close


def test_chart_names_are_file_names():
    assert chart_name("^GSPC") == "GSPC"
    assert chart_name("BRK.B") == "BRK.B"


def test_report_command_writes_into_out(data_file, tmp_path):
    result = kafkatrade(
        "report",
        "--data",
        str(data_file),
        "--strategy",
        "sma_trend",
        "--out",
        str(tmp_path / "out"),
    )
    assert result.returncode == 0, result.stderr
    assert str(tmp_path / "out" / "report.md") in result.stdout
    assert (tmp_path / "out" / "AAA.png").is_file()
