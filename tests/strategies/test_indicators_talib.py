"""The incremental indicators equal TA-Lib (the C library in the `ta-lib` wheel), warm-up
boundaries included, on the default real data and on long random walks; and the documented
differences between TA-Lib and pandas-ta-classic's own code are what the docs say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas_ta_classic as ta
import pytest
import talib

from kafkatrade.indicators import EMA, MACD, RSI, SMA, BollingerBands
from kafkatrade.marketdata import load

RTOL = 1e-9


def _walk(seed: int, steps: int = 20_000) -> np.ndarray:
    """A geometric random walk from 100: 1% daily moves, flat stretches included."""
    rng = np.random.default_rng(seed)
    moves = rng.normal(0.0, 0.01, steps)
    moves[rng.random(steps) < 0.02] = 0.0  # some unchanged closes
    return 100.0 * np.exp(np.cumsum(moves))


REAL = {symbol: np.array([bar.close for bar in bars]) for symbol, bars in load().items()}
SERIES = {**REAL, "walk-1": _walk(1), "walk-2": _walk(2)}


def _feed(indicator, closes: np.ndarray, pick=lambda v: v) -> np.ndarray:
    out = np.full(len(closes), np.nan)
    for i, close in enumerate(closes.tolist()):
        value = indicator.update(close)
        if value is not None:
            out[i] = pick(value)
    return out


def _first_valid(values) -> int:
    valid = ~np.isnan(np.asarray(values, dtype=float))
    return int(np.argmax(valid)) if valid.any() else -1


def assert_equal_to_talib(ours: np.ndarray, oracle: np.ndarray, closes: np.ndarray) -> None:
    """Same NaN positions (so the same warm-up) and values within 1e-9 relative. Outputs that
    cross zero (MACD, histogram) get an absolute floor of 1e-12 of the price level, where a
    relative error of a value near 0 means nothing."""
    assert _first_valid(ours) == _first_valid(oracle)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(oracle))
    scale = float(np.max(np.abs(closes)))
    np.testing.assert_allclose(ours, oracle, rtol=RTOL, atol=1e-12 * scale, equal_nan=True)


@pytest.mark.parametrize("name", list(SERIES))
@pytest.mark.parametrize("period", [2, 10, 30])
def test_sma_equals_talib(name, period):
    closes = SERIES[name]
    ours = _feed(SMA(period), closes)
    assert _first_valid(ours) == SMA(period).warmup == period - 1
    assert_equal_to_talib(ours, talib.SMA(closes, period), closes)


@pytest.mark.parametrize("name", list(SERIES))
@pytest.mark.parametrize("period", [2, 12, 26])
def test_ema_equals_talib(name, period):
    closes = SERIES[name]
    ours = _feed(EMA(period), closes)
    assert _first_valid(ours) == EMA(period).warmup == period - 1
    assert_equal_to_talib(ours, talib.EMA(closes, period), closes)


@pytest.mark.parametrize("name", list(SERIES))
@pytest.mark.parametrize("period", [2, 14])
def test_rsi_equals_talib(name, period):
    closes = SERIES[name]
    ours = _feed(RSI(period), closes)
    assert _first_valid(ours) == RSI(period).warmup == period
    assert_equal_to_talib(ours, talib.RSI(closes, period), closes)


@pytest.mark.parametrize("name", list(SERIES))
@pytest.mark.parametrize("periods", [(12, 26, 9), (5, 20, 4), (3, 4, 2)])
def test_macd_line_signal_and_histogram_equal_talib(name, periods):
    closes = SERIES[name]
    oracle = talib.MACD(closes, *periods)
    assert MACD(*periods).warmup == periods[1] - 1 + periods[2] - 1
    for index, output in enumerate(oracle):
        ours = _feed(MACD(*periods), closes, lambda v, i=index: v[i])
        assert _first_valid(ours) == MACD(*periods).warmup
        assert_equal_to_talib(ours, output, closes)


@pytest.mark.parametrize("name", list(SERIES))
@pytest.mark.parametrize(("period", "k"), [(20, 2.0), (10, 1.5), (5, 1.0)])
def test_bollinger_bands_equal_talib(name, period, k):
    closes = SERIES[name]
    oracle = talib.BBANDS(closes, period, k, k, 0)
    for index, output in enumerate(oracle):
        ours = _feed(BollingerBands(period, k), closes, lambda v, i=index: v[i])
        assert _first_valid(ours) == BollingerBands(period, k).warmup == period - 1
        assert_equal_to_talib(ours, output, closes)


def test_default_macd_warms_up_on_bar_34_as_talib():
    closes = SERIES["walk-1"][:60]
    assert _first_valid(talib.MACD(closes)[0]) == 33
    macd = MACD()
    assert [macd.update(c) is None for c in closes[:34].tolist()] == [True] * 33 + [False]


def test_flat_prices_give_rsi_0_and_bands_on_the_middle_as_talib():
    flat = np.full(40, 10.0)
    assert _feed(RSI(14), flat)[14:].tolist() == talib.RSI(flat, 14)[14:].tolist() == [0.0] * 26
    bands = _feed(BollingerBands(20, 2.0), flat, lambda v: v.upper - v.lower)
    assert bands[19:].tolist() == [0.0] * 21


# pandas-ta-classic's own code (talib=False): where it differs from TA-Lib, as documented in
# kafkatrade.indicators. With talib=True (its default when the wheel is installed) it returns
# TA-Lib's numbers.


def test_pandas_ta_macd_line_starts_8_bars_before_talib_and_differs_then_converges():
    closes = SERIES["walk-1"][:300]
    own = ta.macd(pd.Series(closes), 12, 26, 9, talib=False)
    line, signal = own["MACD_12_26_9"].to_numpy(), own["MACDs_12_26_9"].to_numpy()
    ours = _feed(MACD(), closes, lambda v: v.macd)
    assert (_first_valid(line), _first_valid(signal), _first_valid(ours)) == (25, 33, 33)
    assert abs(line[40] - ours[40]) > 1e-6  # a different fast-EMA seed...
    assert abs(line[299] - ours[299]) < 1e-9 * closes[299]  # ...that fades away


def test_pandas_ta_rsi_is_nan_on_flat_prices_where_talib_says_0():
    flat = pd.Series([10.0] * 30)
    assert ta.rsi(flat, 14, talib=False).isna().all()
    assert ta.rsi(flat, 14, talib=True).iloc[14:].eq(0.0).all()


@pytest.mark.parametrize("length", [10, 20])
def test_pandas_ta_sma_ema_and_bbands_agree_with_talib_up_to_rounding(length):
    closes = SERIES["AAPL"]
    series = pd.Series(closes)
    pairs = [
        (ta.sma(series, length, talib=False), talib.SMA(closes, length)),
        (ta.ema(series, length, talib=False), talib.EMA(closes, length)),
        (
            ta.bbands(series, length, 2.0, talib=False)[f"BBU_{length}_2.0"],
            talib.BBANDS(closes, length, 2.0, 2.0, 0)[0],
        ),
    ]
    for own, oracle in pairs:
        assert _first_valid(own) == _first_valid(oracle) == length - 1
        np.testing.assert_allclose(own.to_numpy(), oracle, rtol=1e-9, equal_nan=True)
