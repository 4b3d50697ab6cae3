"""The report of a backtest or a live run: `report.md` with the figures, and PNG charts.

`kafkatrade report` writes it from MongoDB after a live run (the stored quotes and the orders
the bot made) or from a backtest over a data file or the Quotes topic; `make run` ends by
writing it from MongoDB.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pymongo.database import Database

from kafkatrade.backtest import (
    COLUMNS,
    DEFINITIONS,
    Evaluation,
    NoQuotes,
    QuoteSource,
    backtest,
    evaluation_of,
    table_rows,
)
from kafkatrade.backtest.sources import stored_quotes
from kafkatrade.config import Settings
from kafkatrade.db import mongo
from kafkatrade.models import format_time
from kafkatrade.report.charts import Indicator, plot_symbol, plot_total
from kafkatrade.strategies import create

REPORT_FILE = "report.md"
# Names of `indicator_values()` that are not prices (RSI in 0-100, MACD around 0): they are
# drawn on their own axis. Every other value (sma, ema_*, Bollinger bands) is a price.
OSCILLATORS = frozenset({"rsi", "macd", "signal", "histogram"})


@dataclass
class Report:
    """What was written: the Markdown file, the charts, and the markers drawn per symbol."""

    path: Path
    charts: list[Path] = field(default_factory=list)
    markers: dict[str, int] = field(default_factory=dict)


def indicators_of(spec: str, closes: Sequence[float]) -> list[Indicator]:
    """The indicator lines of the strategy of `spec` over `closes`, one per value it exposes
    (`indicator_values()`: `sma`, `ema_fast`, `rsi`, ...), from a fresh strategy of the
    registry fed the same closes; empty when it exposes none."""
    strategy = create(spec)
    rows = []
    for close in closes:
        strategy.signal(close, long=False)  # the indicators do not depend on the position
        rows.append(strategy.indicator_values())
    keys = list(dict.fromkeys(key for row in rows for key in row))
    return [
        Indicator(f"{strategy.name} {key}", [row.get(key) for row in rows], key not in OSCILLATORS)
        for key in keys
    ]


def chart_name(symbol: str) -> str:
    """A file name for the symbol's chart (`^GSPC` -> `GSPC.png`)."""
    return re.sub(r"[^A-Za-z0-9.\-]", "", symbol) or "symbol"


def write_report(evaluation: Evaluation, out_dir: Path, source: str) -> Report:
    """Writes `report.md` and the charts into `out_dir` (created); what was written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = Report(out_dir / REPORT_FILE)
    names: dict[str, str] = {}
    for symbol, curve in evaluation.curves.items():
        if not curve.times:
            continue
        indicators, missing = [], []
        for spec in evaluation.strategies:
            lines = indicators_of(spec, curve.closes)
            indicators += lines
            if not lines:
                missing.append(spec)
        name = chart_name(symbol)
        while name in names.values():
            name += "_"
        names[symbol] = name
        path = out_dir / f"{name}.png"
        orders = [order for order in evaluation.orders if order.symbol == symbol]
        report.markers[symbol] = plot_symbol(path, symbol, curve, orders, indicators, missing)
        report.charts.append(path)
    total = out_dir / "total.png"
    plot_total(total, evaluation.total_curve)
    report.charts.append(total)
    report.path.write_text(_markdown(evaluation, source, names), encoding="utf-8")
    return report


def _markdown(evaluation: Evaluation, source: str, charts: dict[str, str]) -> str:
    times = evaluation.total_curve.times
    period = f"{format_time(times[0])} to {format_time(times[-1])}" if times else "no bars"
    lines = [
        "# kafkatrade report",
        "",
        f"- source: {source}",
        f"- strategies: {', '.join(evaluation.strategies)}",
        f"- notional per BUY: {evaluation.notional:,.2f}; capital per symbol: "
        f"{evaluation.notional * max(1, len(evaluation.strategies)):,.2f}",
        f"- period: {period}",
        f"- orders: {len(evaluation.orders)}",
        "",
        "## Figures",
        "",
        "| " + " | ".join(name for name, _ in COLUMNS) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(COLUMNS))) + "|",
    ]
    for row in table_rows(evaluation):
        lines.append("| " + " | ".join(cell.replace("^", "\\^") for cell in row) + " |")
    lines += ["", "## Definitions", ""]
    lines += [f"- **{name}**: {text}" for name, text in DEFINITIONS.items()]
    lines += ["", "## Charts", "", "![all symbols](total.png)", ""]
    for symbol, name in charts.items():
        lines += [f"### {symbol}", "", f"![{symbol}]({name}.png)", ""]
    return "\n".join(lines)


def report_of_database(
    settings: Settings, db: Database, out_dir: Path, specs: Sequence[str] | None = None
) -> Report:
    """The report of a live run: the quotes and the orders stored in `db`.

    `specs` (default: the strategies setting) are the strategies the bot ran: they set the
    capital and the indicators drawn.
    """
    quotes = stored_quotes(db)
    if not any(quotes.values()):
        raise NoQuotes(f"MongoDB {settings.mongo_db}.{mongo.QUOTES} holds no quotes")
    evaluation = evaluation_of(quotes, mongo.stored_orders(db), settings, specs)
    return write_report(
        evaluation, out_dir, f"live run stored in MongoDB {settings.mongo_db} (quotes, orders)"
    )


def report_of_source(
    settings: Settings, source: QuoteSource, specs: Sequence[str] | None, out_dir: Path
) -> Report:
    """`--mongo`: the live run stored in MongoDB; otherwise a backtest over `source`."""
    if source.kind == "mongo":
        db = mongo.connect(settings)
        try:
            return report_of_database(settings, db, out_dir, specs)
        finally:
            db.client.close()
    evaluation = backtest(settings, source, specs)
    return write_report(evaluation, out_dir, f"backtest over {source.describe(settings)}")
