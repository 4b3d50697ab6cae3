"""The figures of a run, read back from MongoDB: per symbol quotes, orders, P&L, position."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pymongo.database import Database

from kafkatrade.db import mongo
from kafkatrade.trading.pnl import pnl_by_symbol


@dataclass
class RunSummary:
    symbols: dict[str, dict] = field(default_factory=dict)
    totals: dict = field(default_factory=dict)
    mongodb: dict = field(default_factory=dict)
    kafka: dict = field(default_factory=dict)
    elapsed_seconds: float = 0.0
    quotes_per_second: float = 0.0

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=False) + "\n"

    def write(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")

    def table(self) -> str:
        """A fixed-width table for the terminal."""
        header = f"{'symbol':<8} {'quotes':>7} {'orders':>7} {'realized P&L':>14} {'position':>9}"
        lines = [header, "-" * len(header)]
        for symbol, row in self.symbols.items():
            lines.append(
                f"{symbol:<8} {row['quotes']:>7} {row['orders']:>7} "
                f"{row['realized_pnl']:>14,.2f} {row['position']:>9}"
            )
        t = self.totals
        lines.append("-" * len(header))
        lines.append(
            f"{'total':<8} {t['quotes']:>7} {t['orders']:>7} {t['realized_pnl']:>14,.2f} "
            f"{t['position']:>9}"
        )
        return "\n".join(lines)


def summarize(db: Database, symbols: list[str]) -> RunSummary:
    """Figures for `symbols` from what the database holds."""
    quote_counts = {
        row["_id"]: row["count"]
        for row in db[mongo.QUOTES].aggregate(
            [{"$group": {"_id": "$symbol", "count": {"$sum": 1}}}]
        )
    }
    orders = mongo.stored_orders(db)
    books = pnl_by_symbol(orders)
    summary = RunSummary()
    for symbol in sorted(set(symbols) | set(quote_counts) | set(books)):
        book = books.get(symbol)
        summary.symbols[symbol] = {
            "quotes": quote_counts.get(symbol, 0),
            "orders": book.orders if book else 0,
            "realized_pnl": round(book.realized_pnl, 2) if book else 0.0,
            "position": book.position if book else 0,
        }
    rows = summary.symbols.values()
    summary.totals = {
        "symbols": len(summary.symbols),
        "quotes": sum(r["quotes"] for r in rows),
        "orders": sum(r["orders"] for r in rows),
        "realized_pnl": round(sum(r["realized_pnl"] for r in rows), 2),
        "position": sum(r["position"] for r in rows),
    }
    summary.mongodb = {
        "quotes": db[mongo.QUOTES].count_documents({}),
        "orders": db[mongo.ORDERS].count_documents({}),
    }
    return summary
