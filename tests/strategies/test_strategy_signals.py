"""Signals of every strategy on short, hand-checked series: a crossing up, a crossing down,
equality (nothing), and nothing before the indicators are warm."""

from __future__ import annotations

import numpy as np
import pytest

from kafkatrade.strategies import Crossing, create


def signals(spec: str, closes: list[float]) -> list[str | None]:
    """The strategy's signal on every bar, holding a position after a BUY until a SELL."""
    strategy = create(spec)
    long = False
    out = []
    for close in closes:
        side = strategy.signal(close, long)
        long = {"BUY": True, "SELL": False}.get(side, long)
        out.append(side)
    return out


# ta4j's crossing rule itself.


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([1, 3], [2, 2], [0, 1]),  # below then above: up
        ([3, 1], [2, 2], [0, -1]),  # above then below: down
        ([1, 2, 2, 3], [2, 2, 2, 2], [0, 0, 0, 1]),  # below, equal, equal, above: up on the last
        ([1, 2, 1], [2, 2, 2], [0, 0, 0]),  # touching and going back is no crossing
        ([2, 2, 3], [2, 2, 2], [0, 0, 0]),  # equal from the start, then above: no crossing
        ([3, 4, 5], [2, 2, 2], [0, 0, 0]),  # above all along
    ],
)
def test_crossing_is_strict_and_skips_equal_bars_as_ta4j(a, b, expected):
    crossing = Crossing()
    assert [crossing.update(x, y) for x, y in zip(a, b, strict=True)] == expected


# ema_cross:fast=2:slow=3, k = 2/3 and 1/2, each seeded with the SMA of its first closes.
# closes        10    10    10     9      12      6
# EMA(2)         -    10    10   9.333  11.111  7.704
# EMA(3)         -     -    10   9.5    10.75   8.375
# fast vs slow              =     <       >       <     -> BUY on bar 4, SELL on bar 5


def test_ema_cross_buys_on_crossing_up_and_sells_on_crossing_down():
    assert signals("ema_cross:fast=2:slow=3", [10, 10, 10, 9, 12, 6]) == [
        None,
        None,
        None,
        None,
        "BUY",
        "SELL",
    ]


def test_ema_cross_sees_no_crossing_in_a_trend_already_under_way_at_warm_up():
    # EMA(2) > EMA(3) from their first common bar: never crossed, never traded.
    assert signals("ema_cross:fast=2:slow=3", [float(p) for p in range(1, 30)]) == [None] * 29


def test_ema_cross_equal_averages_signal_nothing():
    assert signals("ema_cross:fast=2:slow=3", [10.0] * 10) == [None] * 10


# rsi_reversion:period=2:low=50:high=70 (Wilder: avg = (avg * 1 + change) / 2).
# closes   10   11   12    11     9      8      12     14
# change        +1   +1    -1    -2     -1      +4     +2
# gain          -    1    0.5   0.25  0.125  2.0625 2.03125
# loss          -    0    0.5   1.25  1.125  0.5625 0.28125
# RSI           -   100   50   16.67   10    78.57   87.8
# vs 50             above  =   below (up->down: BUY)
# vs 70             above below              above (down->up: SELL)


def test_rsi_reversion_buys_crossing_below_low_and_sells_crossing_above_high():
    assert signals("rsi_reversion:period=2:low=50:high=70", [10, 11, 12, 11, 9, 8, 12, 14]) == [
        None,
        None,
        None,
        None,  # RSI == low: equality is no crossing
        "BUY",
        None,
        "SELL",
        None,
    ]


def test_rsi_reversion_first_rsi_is_never_a_crossing():
    # Falling from the start: RSI 0 on its first bar, below 30, but it never crossed.
    assert signals("rsi_reversion", [float(p) for p in range(100, 60, -1)]) == [None] * 40


# macd_signal:fast=2:slow=3:signal=2 as TA-Lib: both EMAs start on bar 2, the fast one seeded
# with the SMA of closes 1..2; the signal is an EMA(2) of the MACD from bar 2.
# closes   10  10  10    10      9       12       6
# EMA(2)            10   10    9.3333  11.1111  7.7037
# EMA(3)            10   10    9.5     10.75    8.375
# MACD               0    0   -0.1667   0.3611 -0.6713
# signal                  0   -0.1111   0.2037 -0.3796
# MACD vs signal          =      <        >       <      -> BUY on bar 5, SELL on bar 6


def test_macd_signal_buys_and_sells_on_the_crossings_of_macd_and_signal():
    closes = [10, 10, 10, 10, 9, 12, 6]
    strategy = create("macd_signal:fast=2:slow=3:signal=2")
    values = []
    for close in closes:
        strategy.signal(close, long=False)
        values.append(strategy.indicator_values())
    assert values[:3] == [{}, {}, {}]
    assert [round(v["macd"], 4) for v in values[3:]] == [0.0, -0.1667, 0.3611, -0.6713]
    assert [round(v["signal"], 4) for v in values[3:]] == [0.0, -0.1111, 0.2037, -0.3796]
    assert signals("macd_signal:fast=2:slow=3:signal=2", closes) == [None] * 5 + ["BUY", "SELL"]


# bollinger_reversion:period=3:k=1, population standard deviation.
# closes  10  11     12        9         11        14
# middle         11        10.6667   10.6667   11.3333
# stdev         0.8165     1.2472    1.2472    2.0548
# lower         10.1835    9.4195    9.4195    9.2785
# upper         11.8165   11.9139   11.9139   13.3881
# close vs lower  above     below (BUY)   above     above
# close vs upper  above     below         below     above (SELL)


def test_bollinger_reversion_buys_below_the_lower_band_and_sells_above_the_upper():
    assert signals("bollinger_reversion:period=3:k=1", [10, 11, 12, 9, 11, 14]) == [
        None,
        None,
        None,
        "BUY",
        None,
        "SELL",
    ]


def test_bollinger_reversion_flat_prices_on_the_bands_signal_nothing():
    assert signals("bollinger_reversion:period=3:k=1", [10.0] * 10) == [None] * 10


@pytest.mark.parametrize(
    ("spec", "warmup"),
    [
        ("sma_trend", 9),
        ("sma_reversion", 9),
        ("ema_cross", 26),
        ("rsi_reversion", 15),
        ("macd_signal", 34),
        ("bollinger_reversion", 20),
    ],
)
def test_no_signal_before_the_warm_up_bar(spec, warmup):
    assert create(spec).warmup == warmup
    rng = np.random.default_rng(3)
    closes = (100 * np.exp(np.cumsum(rng.normal(0, 0.03, 3000)))).tolist()
    got = signals(spec, closes)
    first = next(i for i, side in enumerate(got) if side)
    assert first >= warmup
    assert got.count("BUY") > 3  # the walk trades: the check is not vacuous
