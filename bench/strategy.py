"""Per-quote cost of the indicators and strategies: incremental vs recomputing each quote.

Run: `.venv/bin/python bench/strategy.py [--quotes N]`. The closes are the default real
data's GOOG daily series (1047 bars, from matplotlib's sample data), repeated to N quotes.

"Incremental" is the bot's way: one `update` / `signal` per quote, O(1). "Recompute" is the
naive way: on every quote, pandas-ta-classic recomputes the indicator over the closes the
bot keeps (the indicator's own window for SMA and Bollinger Bands, which are exact over it;
the last 200 closes for the EMA, RSI and MACD, whose values depend on the whole history),
and the strategy's rule reads the last values. pandas-ta-classic is called as a user would,
with its defaults, so it hands the arithmetic to TA-Lib's C code when the `ta-lib` wheel is
installed; the cost it adds is building the pandas objects. Both run in this process, one
after the other, and the ratio is of the two per-quote times measured here (best of 3).
This is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections import deque
from collections.abc import Callable

import pandas as pd

from kafkatrade.indicators import EMA, MACD, RSI, SMA, BollingerBands
from kafkatrade.marketdata import load
from kafkatrade.strategies import create

warnings.filterwarnings("ignore")
import pandas_ta_classic as ta  # noqa: E402  (its import prints deprecation warnings)

HISTORY = 200  # closes a naive bot keeps for the indicators that depend on all history


def closes(count: int) -> list[float]:
    series = [bar.close for bar in load()["GOOG"]]
    return (series * (count // len(series) + 1))[:count]


def per_quote(run: Callable[[list[float]], None], data: list[float], repeat: int = 3) -> float:
    """Best-of-`repeat` seconds per quote of `run(data)`."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run(data)
        best = min(best, time.perf_counter() - start)
    return best / len(data)


def incremental(factory: Callable[[], object]) -> Callable[[list[float]], None]:
    def run(data: list[float]) -> None:
        indicator = factory()
        update = indicator.update
        for close in data:
            update(close)

    return run


def strategy_incremental(spec: str) -> Callable[[list[float]], None]:
    def run(data: list[float]) -> None:
        strategy = create(spec)
        long = False
        for close in data:
            side = strategy.signal(close, long)
            if side:
                long = side == "BUY"

    return run


def recompute(window: int, compute: Callable[[pd.Series], object]) -> Callable:
    """Each quote: the last `window` closes into a Series, the indicator over all of them."""

    def run(data: list[float]) -> None:
        kept: deque[float] = deque(maxlen=window)
        for close in data:
            kept.append(close)
            compute(pd.Series(kept, dtype="float64"))

    return run


def _last2(series) -> tuple[float, float]:
    return float(series.iloc[-2]), float(series.iloc[-1])


def naive_rules() -> dict[str, tuple[int, Callable[[pd.Series], object]]]:
    """Per strategy: the closes it keeps and the per-quote work (indicators + its rule)."""

    def sma_trend(s):
        sma = ta.sma(s, 10)
        return s.iloc[-1] > sma.iloc[-1] if len(s) >= 10 else None

    def ema_cross(s):
        fast, slow = ta.ema(s, 12), ta.ema(s, 26)
        if len(s) < 27:
            return None
        (f0, f1), (s0, s1) = _last2(fast), _last2(slow)
        return f0 <= s0 and f1 > s1

    def rsi_reversion(s):
        rsi = ta.rsi(s, 14)
        return _last2(rsi) if len(s) >= 16 else None

    def macd_signal(s):
        frame = ta.macd(s, 12, 26, 9)
        if frame is None or len(s) < 35:
            return None
        return _last2(frame.iloc[:, 0]), _last2(frame.iloc[:, 2])

    def bollinger_reversion(s):
        frame = ta.bbands(s, 20, 2.0)
        return _last2(frame.iloc[:, 0]) if frame is not None and len(s) >= 21 else None

    return {
        "sma_trend": (10, sma_trend),
        "ema_cross": (HISTORY, ema_cross),
        "rsi_reversion": (HISTORY, rsi_reversion),
        "macd_signal": (HISTORY, macd_signal),
        "bollinger_reversion": (21, bollinger_reversion),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quotes", type=int, default=500, help="quotes per measurement")
    args = parser.parse_args()
    data = closes(args.quotes)
    rows = [
        ("SMA(10)", incremental(lambda: SMA(10)), recompute(10, lambda s: ta.sma(s, 10))),
        ("EMA(12)", incremental(lambda: EMA(12)), recompute(HISTORY, lambda s: ta.ema(s, 12))),
        ("RSI(14)", incremental(lambda: RSI(14)), recompute(HISTORY, lambda s: ta.rsi(s, 14))),
        (
            "MACD(12,26,9)",
            incremental(MACD),
            recompute(HISTORY, lambda s: ta.macd(s, 12, 26, 9)),
        ),
        (
            "BBANDS(20,2)",
            incremental(BollingerBands),
            recompute(20, lambda s: ta.bbands(s, 20, 2.0)),
        ),
    ]
    for spec, (window, rule) in naive_rules().items():
        rows.append((spec, strategy_incremental(spec), recompute(window, rule)))
    rows.append(("sma_reversion", strategy_incremental("sma_reversion"), rows[5][2]))

    print(f"{len(data)} quotes (GOOG daily closes), best of 3, microseconds per quote")
    print(f"{'':22}{'incremental':>12}{'recompute':>12}{'ratio':>9}")
    worst = float("inf")
    for name, fast, slow in rows:
        a, b = per_quote(fast, data), per_quote(slow, data)
        worst = min(worst, b / a)
        print(f"{name:22}{a * 1e6:12.2f}{b * 1e6:12.1f}{b / a:8.0f}x")
    verdict = "met" if worst >= 20 else "NOT met"
    print(f"slowest ratio {worst:.0f}x: the 20x target is {verdict}")


if __name__ == "__main__":
    main()
