"""Incremental technical indicators: O(1) work per bar, values equal to TA-Lib's.

Each indicator is fed one close at a time with `update(close)`, which returns the value of
the bar just added, or None while the indicator warms up. `warmup` is the number of bars
before the first value (TA-Lib's "lookback"): the first value comes with bar index `warmup`
(0-based), exactly where `talib.<FUNC>` gives its first non-NaN.

| indicator | class | warmup | TA-Lib oracle |
|---|---|---|---|
| SMA(n) | `SMA` | n - 1 | `talib.SMA(close, n)` |
| EMA(n) | `EMA` | n - 1 | `talib.EMA(close, n)` |
| RSI(n), Wilder | `RSI` | n | `talib.RSI(close, n)` |
| MACD(f, s, g) | `MACD` | s - 1 + g - 1 (33) | `talib.MACD(close, f, s, g)` |
| Bollinger(n, k) | `BollingerBands` | n - 1 | `talib.BBANDS(close, n, k, k, 0)` |

Every class repeats TA-Lib's arithmetic in TA-Lib's order (running sums that add the new
close before they subtract the leaving one, the seeds below), so the values are equal to the
C library's, not merely close: the tests allow 1e-9 relative and see 0 on real data and on
20 000-step random walks.

## TA-Lib and pandas-ta-classic: where they differ, and why we follow TA-Lib

pandas-ta-classic delegates to TA-Lib when TA-Lib is installed (`talib=True`, its default),
so the two only differ when pandas-ta-classic computes on its own (`talib=False`, or without
the `ta-lib` wheel). Its own results, against TA-Lib on the same closes:

- **SMA, EMA, Bollinger Bands**: same first valid index (n - 1); values equal up to rounding
  (about 1e-13 relative: pandas' rolling sums round differently from TA-Lib's running sum).
  Both seed the EMA with the SMA of the first n closes; both Bollinger Bands use the
  population standard deviation (ddof 0).
- **MACD(12, 26, 9)**: TA-Lib's first MACD, signal and histogram values are all at index 33;
  pandas-ta-classic's MACD line starts at index 25 (its signal and histogram at 33). The
  values differ too: TA-Lib starts the fast EMA where the slow one starts, seeding it with the
  SMA of closes 14..25, whereas pandas-ta-classic seeds it with the SMA of closes 0..11. The
  gap fades geometrically (about 2e-2 at bar 40, 1e-6 at bar 100 on a random walk near 100).
- **RSI on flat prices**: when the average gain and the average loss are both zero (no price
  change over the window), TA-Lib gives 0 (it tests `gain + loss` against 1e-8), while
  pandas-ta-classic gives NaN (0 / 0), and stays NaN until a price moves. After a rise from
  flat, both give 100. First valid index n (14) in both.

We follow TA-Lib: it is the reference C implementation the trading world checks against,
it is deterministic (a number on every bar after warm-up, never NaN, so a strategy never
has to decide what "RSI is NaN" means), and it is the one the issue makes the oracle.
pandas-ta-classic itself returns TA-Lib's numbers whenever the wheel is installed.
"""

from kafkatrade.indicators.bands import Bands, BollingerBands
from kafkatrade.indicators.moving import EMA, SMA
from kafkatrade.indicators.oscillators import MACD, RSI, MacdValue

__all__ = ["EMA", "MACD", "RSI", "SMA", "Bands", "BollingerBands", "MacdValue"]
