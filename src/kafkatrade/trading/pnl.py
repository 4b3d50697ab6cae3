"""Profit and loss of a sequence of orders, at average cost."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kafkatrade.models import Order


@dataclass
class PositionPnl:
    position: int = 0
    cost: float = 0.0
    realized_pnl: float = 0.0
    orders: int = 0

    def apply(self, order: Order) -> None:
        self.orders += 1
        if order.side == "BUY":
            self.position += order.quantity
            self.cost += order.quantity * order.price
            return
        average = self.cost / self.position if self.position else 0.0
        self.realized_pnl += order.quantity * (order.price - average)
        self.cost -= order.quantity * average
        self.position -= order.quantity


def pnl_by_symbol(orders: Iterable[Order]) -> dict[str, PositionPnl]:
    """Per symbol, summed over strategies (each strategy keeps its own average cost)."""
    books: dict[tuple[str, str], PositionPnl] = {}
    for order in sorted(orders, key=lambda o: (o.timestamp, o.side == "BUY")):
        books.setdefault((order.symbol, order.strategy), PositionPnl()).apply(order)
    totals: dict[str, PositionPnl] = {}
    for (symbol, _), book in sorted(books.items()):
        total = totals.setdefault(symbol, PositionPnl())
        total.position += book.position
        total.cost += book.cost
        total.realized_pnl += book.realized_pnl
        total.orders += book.orders
    return totals
