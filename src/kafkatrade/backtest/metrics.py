"""The figures of a strategy's orders over the quotes they were made on.

The same computation judges a backtest and a live run (the orders stored in MongoDB): it
takes quotes and orders, not an engine. Definitions (also in `DEFINITIONS`, printed with
`--json` and in the report):

- capital: the money a symbol can have at work, `notional x strategies` (each strategy holds
  at most one position, bought for `notional`).
- trade: a round trip of one strategy, from the BUY that opens a position to the SELL that
  closes it; a win when its realized P&L is positive. Win rate = wins / trades.
- realized P&L: at average cost (`trading.pnl.PositionPnl`); unrealized P&L: the open
  positions marked to the last close.
- return: (realized + unrealized P&L) / capital.
- equity curve: capital + realized + unrealized P&L, marked to the close of every bar.
- max drawdown: the largest fall of the equity curve from its running peak, in money and
  as a fraction of that peak.
- Sharpe: mean / standard deviation (ddof 1) of the per-bar returns of the equity curve,
  times sqrt(bars per year); no risk-free rate; undefined when the equity reaches zero.
  Bars per year come from the symbol's median bar spacing: under a day, 252 x 6.5 h /
  spacing; 1-4 days: 252 (daily); 4-20 days: 52 (weekly); 20-80 days: 12 (monthly); 80-200
  days: 4 (quarterly); longer: 365.25 days / spacing. The total's Sharpe is given only
  when every symbol has the same bars per year.
- exposure: the share of bars that close with a position open.
- buy and hold: `floor(capital / first close)` shares bought at the first close, marked to
  the last one; its return is relative to the same capital.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from kafkatrade.models import Order, Quote
from kafkatrade.trading.engine import shares_for
from kafkatrade.trading.pnl import PositionPnl

DEFINITIONS = {
    "capital": "notional x strategies per symbol: the money a symbol can have at work",
    "trades": "round trips of one strategy, BUY that opens to SELL that closes a position",
    "win_rate": "trades with a positive realized P&L / trades",
    "realized_pnl": "P&L of the closed quantity at average cost",
    "unrealized_pnl": "open positions marked to the last close",
    "return": "(realized + unrealized P&L) / capital",
    "max_drawdown": "largest fall of the equity curve (capital + P&L marked to every close) "
    "from its running peak, in money; max_drawdown_pct: as a fraction of that peak",
    "sharpe": "mean / stdev of the per-bar equity returns x sqrt(bars per year), no risk-free "
    "rate; bars per year from the median bar spacing: 252 for daily bars, 52 weekly, 12 "
    "monthly, 4 quarterly, 252 x 6.5 h / spacing intraday; the total's only when every "
    "symbol has the same bars per year; undefined when the equity reaches zero",
    "exposure": "share of bars that close with a position open",
    "buy_and_hold": "floor(capital / first close) shares bought at the first close, marked to "
    "the last; its return is relative to the same capital",
}


@dataclass
class Curve:
    """A symbol's series, one point per bar: for the charts and the totals."""

    times: list[datetime] = field(default_factory=list)
    closes: list[float] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)
    buy_and_hold: list[float] = field(default_factory=list)
    in_position: list[bool] = field(default_factory=list)


@dataclass
class Figures:
    bars: int = 0
    orders: int = 0
    trades: int = 0
    wins: int = 0
    win_rate: float | None = None
    realized_pnl: float = 0.0
    unrealized_pnl: float = 0.0
    pnl: float = 0.0
    capital: float = 0.0
    return_: float | None = None
    max_drawdown: float = 0.0
    max_drawdown_pct: float = 0.0
    sharpe: float | None = None
    bars_per_year: float | None = None
    exposure: float | None = None
    position: int = 0
    buy_and_hold_pnl: float = 0.0
    buy_and_hold_return: float | None = None

    def to_dict(self) -> dict:
        document = dict(self.__dict__)
        document["return"] = document.pop("return_")
        return document


@dataclass
class Evaluation:
    """Figures per symbol and in total, the curves behind them, and the orders judged."""

    strategies: list[str]
    notional: float
    symbols: dict[str, Figures] = field(default_factory=dict)
    curves: dict[str, Curve] = field(default_factory=dict)
    totals: Figures = field(default_factory=Figures)
    total_curve: Curve = field(default_factory=Curve)
    orders: list[Order] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "strategies": self.strategies,
            "notional": self.notional,
            "definitions": DEFINITIONS,
            "symbols": {symbol: f.to_dict() for symbol, f in self.symbols.items()},
            "totals": self.totals.to_dict(),
            "orders": [order.to_dict() for order in self.orders],
        }


def bars_per_year(times: Sequence[datetime]) -> float | None:
    """Bars per year from the median spacing of `times` (see the module's docstring)."""
    if len(times) < 2:
        return None
    spacing = statistics.median(
        (after - before).total_seconds() for before, after in itertools.pairwise(times)
    )
    if spacing <= 0:
        return None
    days = spacing / 86_400
    if days < 1:
        return 252 * 6.5 * 3600 / spacing
    for upper, periods in ((4, 252.0), (20, 52.0), (80, 12.0), (200, 4.0)):
        if days < upper:
            return periods
    return 365.25 / days


def sharpe_ratio(equity: Sequence[float], periods_per_year: float | None) -> float | None:
    """Annualized Sharpe of the per-bar returns of `equity`; None when undefined."""
    # Per-bar returns mean nothing once the equity reaches zero (fixed-notional BUYs can
    # lose more than the capital): undefined then.
    if periods_per_year is None or len(equity) < 3 or min(equity) <= 0:
        return None
    returns = [after / before - 1 for before, after in itertools.pairwise(equity)]
    deviation = statistics.stdev(returns)
    if deviation == 0:
        return None
    return statistics.fmean(returns) / deviation * math.sqrt(periods_per_year)


def max_drawdown(equity: Iterable[float]) -> tuple[float, float]:
    """The largest fall from a running peak: (in money, as a fraction of that peak)."""
    peak = -math.inf
    worst = worst_pct = 0.0
    for value in equity:
        peak = max(peak, value)
        worst = max(worst, peak - value)
        worst_pct = max(worst_pct, (peak - value) / peak if peak > 0 else 0.0)
    return worst, worst_pct


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _evaluate_symbol(
    quotes: Sequence[Quote], orders: Sequence[Order], capital: float
) -> tuple[Figures, Curve]:
    # As pnl_by_symbol: by time, a bar's SELL before its BUY.
    pending = sorted(orders, key=lambda o: (o.timestamp, o.side == "BUY"))
    books: dict[str, PositionPnl] = defaultdict(PositionPnl)
    opened_at: dict[str, float] = {}  # realized P&L of a book when its position opened
    figures = Figures(capital=capital, orders=len(pending))
    curve = Curve()
    first_close = quotes[0].price if quotes else 0.0
    held = shares_for(capital, first_close) if quotes else 0
    next_order = 0
    for quote in quotes:
        while next_order < len(pending) and pending[next_order].timestamp <= quote.timestamp:
            order = pending[next_order]
            next_order += 1
            book = books[order.strategy]
            if order.side == "BUY" and book.position == 0:
                opened_at[order.strategy] = book.realized_pnl
            book.apply(order)
            if order.side == "SELL" and book.position == 0:
                figures.trades += 1
                figures.wins += book.realized_pnl - opened_at.pop(order.strategy, 0.0) > 0
        marked = sum(b.realized_pnl + b.position * quote.price - b.cost for b in books.values())
        curve.times.append(quote.timestamp)
        curve.closes.append(quote.price)
        curve.equity.append(capital + marked)
        curve.buy_and_hold.append(capital + held * (quote.price - first_close))
        curve.in_position.append(any(b.position > 0 for b in books.values()))
    last_close = quotes[-1].price if quotes else 0.0
    figures.bars = len(quotes)
    figures.win_rate = _ratio(figures.wins, figures.trades)
    figures.realized_pnl = sum(b.realized_pnl for b in books.values())
    figures.unrealized_pnl = sum(b.position * last_close - b.cost for b in books.values())
    figures.pnl = figures.realized_pnl + figures.unrealized_pnl
    figures.position = sum(b.position for b in books.values())
    figures.return_ = _ratio(figures.pnl, capital)
    figures.max_drawdown, figures.max_drawdown_pct = max_drawdown(curve.equity)
    figures.bars_per_year = bars_per_year(curve.times)
    figures.sharpe = sharpe_ratio(curve.equity, figures.bars_per_year)
    figures.exposure = _ratio(sum(curve.in_position), len(quotes))
    figures.buy_and_hold_pnl = held * (last_close - first_close)
    figures.buy_and_hold_return = _ratio(figures.buy_and_hold_pnl, capital)
    return figures, curve


def _total_curve(curves: Mapping[str, Curve], capitals: Mapping[str, float]) -> Curve:
    """The sum of the symbols' curves on the union of their times, each carried forward
    (before its first bar a symbol counts its capital, untouched)."""
    times = sorted({t for curve in curves.values() for t in curve.times})
    total = Curve(times=times)
    for moment in times:
        equity = held = 0.0
        in_position = False
        for symbol, curve in curves.items():
            index = bisect.bisect_right(curve.times, moment) - 1
            if index < 0:
                equity += capitals[symbol]
                held += capitals[symbol]
                continue
            equity += curve.equity[index]
            held += curve.buy_and_hold[index]
            in_position = in_position or curve.in_position[index]
        total.equity.append(equity)
        total.buy_and_hold.append(held)
        total.in_position.append(in_position)
    return total


def evaluate(
    quotes: Mapping[str, Sequence[Quote]],
    orders: Iterable[Order],
    strategies: Sequence[str],
    notional: float,
) -> Evaluation:
    """The figures of `orders` over each symbol's `quotes` (oldest first, one per bar)."""
    orders = list(orders)
    by_symbol: dict[str, list[Order]] = defaultdict(list)
    for order in orders:
        by_symbol[order.symbol].append(order)
    capital = notional * max(1, len(strategies))
    evaluation = Evaluation(strategies=list(strategies), notional=notional, orders=orders)
    for symbol in sorted(set(quotes) | set(by_symbol)):
        evaluation.symbols[symbol], evaluation.curves[symbol] = _evaluate_symbol(
            quotes.get(symbol, ()), by_symbol.get(symbol, []), capital
        )
    rows = list(evaluation.symbols.values())
    totals = evaluation.totals
    for name in (
        "bars",
        "orders",
        "trades",
        "wins",
        "realized_pnl",
        "unrealized_pnl",
        "pnl",
        "capital",
        "position",
        "buy_and_hold_pnl",
    ):
        setattr(totals, name, sum(getattr(row, name) for row in rows))
    totals.win_rate = _ratio(totals.wins, totals.trades)
    totals.return_ = _ratio(totals.pnl, totals.capital)
    totals.buy_and_hold_return = _ratio(totals.buy_and_hold_pnl, totals.capital)
    in_position = sum(sum(curve.in_position) for curve in evaluation.curves.values())
    totals.exposure = _ratio(in_position, totals.bars)
    curve = _total_curve(evaluation.curves, {s: f.capital for s, f in evaluation.symbols.items()})
    evaluation.total_curve = curve
    totals.max_drawdown, totals.max_drawdown_pct = max_drawdown(curve.equity)
    frequencies = {row.bars_per_year for row in rows}
    if len(frequencies) == 1:
        totals.bars_per_year = frequencies.pop()
        totals.sharpe = sharpe_ratio(curve.equity, totals.bars_per_year)
    return evaluation
