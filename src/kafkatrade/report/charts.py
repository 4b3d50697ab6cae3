"""PNG charts of an evaluation with matplotlib's Agg backend (no display needed).

Per symbol: the closes with the strategies' indicators and a marker per order (BUY ^, SELL v),
above the equity curve against buy and hold. In total: the summed equity against buy and hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: files only, whatever the environment's default

import matplotlib.pyplot as plt

from kafkatrade.backtest.metrics import Curve
from kafkatrade.models import Order

SIDE_MARKERS = {"BUY": "^", "SELL": "v"}


@dataclass(frozen=True)
class Indicator:
    """A line drawn over the closes: `values` aligned with the curve's bars, None in warm-up."""

    label: str
    values: Sequence[float | None]
    price_scale: bool = True  # False: an oscillator (RSI, MACD), drawn on a right-hand axis


def plot_symbol(
    path: Path,
    symbol: str,
    curve: Curve,
    orders: Sequence[Order],
    indicators: Sequence[Indicator],
    missing: Sequence[str] = (),
) -> int:
    """Writes the symbol's chart to `path`; the number of order markers drawn.

    `missing` names the strategies whose indicator is not available: the legend says so.
    """
    figure, (prices, equity) = plt.subplots(
        2, 1, figsize=(11, 7), sharex=True, height_ratios=(3, 2), layout="constrained"
    )
    try:
        prices.plot(curve.times, curve.closes, color="black", linewidth=0.9, label="close")
        other_scale = None  # a right-hand axis for oscillators (RSI, MACD) when there are some
        for index, indicator in enumerate(indicators):
            pairs = [
                (t, v) for t, v in zip(curve.times, indicator.values, strict=True) if v is not None
            ]
            if not pairs:
                continue
            times, values = zip(*pairs, strict=True)
            if indicator.price_scale:
                prices.plot(times, values, linewidth=0.9, color=f"C{index}", label=indicator.label)
                continue
            other_scale = other_scale or prices.twinx()
            other_scale.plot(times, values, linewidth=0.7, alpha=0.6, color=f"C{index}")
            prices.plot([], [], color=f"C{index}", label=f"{indicator.label} (right axis)")
        for strategy in missing:
            prices.plot([], [], " ", label=f"{strategy}: no indicator values, price only")
        drawn = 0
        strategies = sorted({order.strategy for order in orders})
        for index, strategy in enumerate(strategies):
            for side, marker in SIDE_MARKERS.items():
                chosen = [o for o in orders if o.strategy == strategy and o.side == side]
                if not chosen:
                    continue
                markers = prices.scatter(
                    [o.timestamp for o in chosen],
                    [o.price for o in chosen],
                    marker=marker,
                    s=36,
                    color=("tab:green", "tab:red")[side == "SELL"],
                    edgecolors=f"C{index}",
                    linewidths=0.8 if len(strategies) > 1 else 0,
                    zorder=3,
                    label=f"{side} {strategy} ({len(chosen)})",
                )
                drawn += len(markers.get_offsets())
        prices.set_title(f"{symbol}: close, indicators and orders")
        prices.set_ylabel("price")
        if min(curve.closes) * 20 < max(curve.closes):
            prices.set_yscale("log")  # decades of growth: early moves stay visible
        prices.legend(loc="upper left", fontsize="small")
        prices.grid(alpha=0.3)
        _plot_equity(equity, curve)
        figure.savefig(path, dpi=90)
    finally:
        plt.close(figure)
    return drawn


def plot_total(path: Path, curve: Curve) -> None:
    """The summed equity of every symbol against buy and hold."""
    figure, axes = plt.subplots(figsize=(11, 4), layout="constrained")
    try:
        _plot_equity(axes, curve)
        axes.set_title("all symbols: equity against buy and hold")
        figure.savefig(path, dpi=90)
    finally:
        plt.close(figure)


def _plot_equity(axes, curve: Curve) -> None:
    axes.plot(curve.times, curve.equity, linewidth=1.0, label="strategy equity")
    axes.plot(curve.times, curve.buy_and_hold, linewidth=1.0, label="buy and hold")
    axes.set_ylabel("equity")
    axes.legend(loc="upper left", fontsize="small")
    axes.grid(alpha=0.3)
