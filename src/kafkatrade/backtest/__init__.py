"""Backtest: the bot's own `TradingEngine` over recorded quotes, and the figures of its orders.

`kafkatrade backtest` replays a data file, the retained Quotes topic or the quotes stored in
MongoDB through the very engine the live bot runs (`TradingEngine.from_settings` builds both),
then judges the orders with `metrics.evaluate`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kafkatrade.backtest.metrics import DEFINITIONS, Evaluation, Figures, evaluate
from kafkatrade.backtest.sources import NoQuotes, QuoteSource, read_quotes
from kafkatrade.config import Settings
from kafkatrade.models import Order, Quote
from kafkatrade.trading.engine import TradingEngine

__all__ = [
    "DEFINITIONS",
    "Evaluation",
    "NoQuotes",
    "QuoteSource",
    "backtest",
    "replay",
    "strategy_specs",
    "table",
]


def strategy_specs(settings: Settings, specs: Sequence[str] | None = None) -> list[str]:
    """The strategies a backtest runs: those given (`--strategy`), else the bot's setting."""
    return list(specs) if specs else settings.strategy_names


def replay(engine: TradingEngine, quotes: Mapping[str, Sequence[Quote]]) -> list[Order]:
    """Every order the engine makes over the quotes, symbol by symbol, each in time order.

    The engine keeps each symbol's state apart, so symbol by symbol gives the same orders as
    the bot's interleaving of partitions.
    """
    orders: list[Order] = []
    for symbol in sorted(quotes):
        for quote in quotes[symbol]:
            orders.extend(engine.on_quote(quote))
    return orders


def backtest(
    settings: Settings, source: QuoteSource, specs: Sequence[str] | None = None
) -> Evaluation:
    """Runs the engine over the quotes of `source` and returns the figures of its orders."""
    engine = TradingEngine.from_settings(settings, specs)  # first: a bad strategy fails before I/O
    quotes = read_quotes(settings, source)
    return evaluation_of(quotes, replay(engine, quotes), settings, specs)


def evaluation_of(
    quotes: Mapping[str, Sequence[Quote]],
    orders: Sequence[Order],
    settings: Settings,
    specs: Sequence[str] | None = None,
) -> Evaluation:
    """The figures of `orders` over `quotes`, a quote per bar (the engine ignores a quote
    not newer than its symbol's last, and so do the figures)."""
    bars = {symbol: _newer_only(series) for symbol, series in quotes.items()}
    return evaluate(bars, orders, strategy_specs(settings, specs), settings.order_notional)


def _newer_only(quotes: Sequence[Quote]) -> list[Quote]:
    kept: list[Quote] = []
    for quote in quotes:
        if not kept or quote.timestamp > kept[-1].timestamp:
            kept.append(quote)
    return kept


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


COLUMNS = (
    ("symbol", 8),
    ("bars", 6),
    ("trades", 6),
    ("win", 6),
    ("realized", 13),
    ("unrealized", 12),
    ("return", 8),
    ("max DD", 12),
    ("DD %", 6),
    ("Sharpe", 7),
    ("exposure", 8),
    ("B&H return", 10),
)


def table_rows(evaluation: Evaluation) -> list[list[str]]:
    """One row per symbol and a last one for the total, the cells already formatted."""

    def cells(name: str, f: Figures) -> list[str]:
        return [
            name,
            str(f.bars),
            str(f.trades),
            _percent(f.win_rate),
            _number(f.realized_pnl),
            _number(f.unrealized_pnl),
            _percent(f.return_),
            _number(f.max_drawdown),
            _percent(f.max_drawdown_pct),
            _number(f.sharpe),
            _percent(f.exposure),
            _percent(f.buy_and_hold_return),
        ]

    rows = [cells(symbol, figures) for symbol, figures in evaluation.symbols.items()]
    rows.append(cells("total", evaluation.totals))
    return rows


def table(evaluation: Evaluation) -> str:
    """A fixed-width table for the terminal."""
    header = " ".join(
        f"{name:<{width}}" if i == 0 else f"{name:>{width}}"
        for i, (name, width) in enumerate(COLUMNS)
    )
    lines = [header, "-" * len(header)]
    rows = table_rows(evaluation)
    for index, row in enumerate(rows):
        if index == len(rows) - 1:
            lines.append("-" * len(header))
        lines.append(
            " ".join(
                f"{cell:<{width}}" if i == 0 else f"{cell:>{width}}"
                for i, (cell, (_, width)) in enumerate(zip(row, COLUMNS, strict=True))
            )
        )
    return "\n".join(lines)
