"""The backtest's figures on tiny series whose every value is worked out by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from kafkatrade.backtest.metrics import bars_per_year, evaluate, max_drawdown
from kafkatrade.models import Order, Quote, order_id

START = datetime(2024, 1, 1, tzinfo=UTC)


def quotes(symbol: str, closes: list[float], spacing: timedelta = timedelta(days=1)):
    return [
        Quote(symbol, close, 0.0, START + index * spacing, "test")
        for index, close in enumerate(closes)
    ]


def order(symbol: str, day: int, side: str, quantity: int, price: float, strategy="sma_trend"):
    moment = START + timedelta(days=day)
    return Order(
        order_id(symbol, strategy, moment, side),
        symbol,
        side,
        quantity,
        price,
        moment,
        strategy,
        moment,
    )


# Closes of six daily bars and two round trips with a capital of 1000:
#   day 0: BUY 100 @ 10 -> equity 1000     day 3: BUY 90 @ 11 -> equity 1200
#   day 1: close 11     -> equity 1100     day 4: SELL 90 @ 9 (-180) -> equity 1020
#   day 2: SELL 100 @ 12 (+200) -> 1200    day 5: close 13, flat -> equity 1020
CLOSES = [10.0, 11.0, 12.0, 11.0, 9.0, 13.0]
ROUND_TRIPS = [
    order("ABC", 0, "BUY", 100, 10.0),
    order("ABC", 2, "SELL", 100, 12.0),
    order("ABC", 3, "BUY", 90, 11.0),
    order("ABC", 4, "SELL", 90, 9.0),
]


def test_two_round_trips_one_won_one_lost():
    result = evaluate({"ABC": quotes("ABC", CLOSES)}, ROUND_TRIPS, ["sma_trend"], 1000.0)
    figures = result.symbols["ABC"]
    assert figures.trades == 2
    assert figures.wins == 1
    assert figures.win_rate == 0.5
    assert figures.realized_pnl == pytest.approx(200 - 180, abs=1e-9)
    assert figures.unrealized_pnl == 0
    assert figures.position == 0
    assert figures.capital == 1000.0
    assert figures.return_ == pytest.approx(20 / 1000)
    assert result.curves["ABC"].equity == pytest.approx([1000, 1100, 1200, 1200, 1020, 1020])
    assert figures.max_drawdown == pytest.approx(1200 - 1020)
    assert figures.max_drawdown_pct == pytest.approx(180 / 1200)
    # in a position at the close of days 0, 1 and 3
    assert figures.exposure == pytest.approx(3 / 6)
    # buy and hold: floor(1000 / 10) = 100 shares from 10 to 13
    assert figures.buy_and_hold_pnl == pytest.approx(300)
    assert figures.buy_and_hold_return == pytest.approx(0.3)


def test_sharpe_of_daily_bars_is_annualized_with_252():
    result = evaluate({"ABC": quotes("ABC", CLOSES)}, ROUND_TRIPS, ["sma_trend"], 1000.0)
    returns = [1100 / 1000 - 1, 1200 / 1100 - 1, 0.0, 1020 / 1200 - 1, 0.0]
    mean = sum(returns) / 5
    deviation = math.sqrt(sum((r - mean) ** 2 for r in returns) / 4)
    assert result.symbols["ABC"].bars_per_year == 252
    assert result.symbols["ABC"].sharpe == pytest.approx(mean / deviation * math.sqrt(252))


def test_an_open_position_is_marked_to_the_last_close():
    result = evaluate(
        {"ABC": quotes("ABC", CLOSES)}, [order("ABC", 1, "BUY", 90, 11.0)], ["sma_trend"], 1000.0
    )
    figures = result.symbols["ABC"]
    assert figures.trades == 0
    assert figures.win_rate is None
    assert figures.realized_pnl == 0
    assert figures.unrealized_pnl == pytest.approx(90 * (13 - 11))
    assert figures.position == 90
    assert figures.exposure == pytest.approx(5 / 6)  # from day 1 to day 5
    # marked: day 1 1000, day 2 1090, day 3 1000, day 4 820, day 5 1180
    assert figures.max_drawdown == pytest.approx(1090 - 820)


def test_totals_sum_the_symbols_and_weigh_exposure_by_bars():
    result = evaluate(
        {"ABC": quotes("ABC", CLOSES), "XYZ": quotes("XYZ", [5.0, 5.0])},
        ROUND_TRIPS,
        ["sma_trend", "sma_reversion"],
        500.0,
    )
    totals = result.totals
    assert totals.capital == 2 * (2 * 500.0)  # notional x strategies, per symbol
    assert totals.bars == 8
    assert totals.trades == 2
    assert totals.realized_pnl == pytest.approx(20)
    assert totals.return_ == pytest.approx(20 / 2000)
    assert totals.exposure == pytest.approx(3 / 8)
    # equity of ABC + XYZ (flat at 1000): the drawdown is ABC's
    assert totals.max_drawdown == pytest.approx(180)
    assert totals.sharpe is not None  # both symbols have daily bars


def test_total_sharpe_is_not_given_across_bar_frequencies():
    result = evaluate(
        {
            "DAY": quotes("DAY", CLOSES),
            "MON": quotes("MON", CLOSES, spacing=timedelta(days=30)),
        },
        ROUND_TRIPS,
        ["sma_trend"],
        1000.0,
    )
    assert result.symbols["MON"].bars_per_year == 12
    assert result.totals.sharpe is None


@pytest.mark.parametrize(
    ("spacing", "expected"),
    [
        (timedelta(days=1), 252),
        (timedelta(days=7), 52),
        (timedelta(days=31), 12),
        (timedelta(days=91), 4),
        (timedelta(minutes=1), 252 * 390),
    ],
)
def test_bars_per_year_follow_the_median_spacing(spacing, expected):
    times = [START + index * spacing for index in range(5)]
    assert bars_per_year(times) == pytest.approx(expected)


def test_daily_bars_with_weekends_count_as_daily():
    weekdays = [START + timedelta(days=d) for d in range(28) if (START.weekday() + d) % 7 < 5]
    assert bars_per_year(weekdays) == 252


def test_max_drawdown_is_measured_from_the_running_peak():
    assert max_drawdown([100, 120, 90, 130, 110, 140]) == (30, pytest.approx(30 / 120))
    assert max_drawdown([100, 101, 102]) == (0, 0)
