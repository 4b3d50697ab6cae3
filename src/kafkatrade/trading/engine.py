"""Per-symbol trading state: one position per symbol and strategy, orders from signals."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from kafkatrade.models import Order, Quote, order_id
from kafkatrade.strategies import Strategy, check_names, create


def shares_for(notional: float, price: float) -> int:
    """Whole shares that `notional` buys at `price` (0 when one share costs more)."""
    return math.floor(notional / price)


@dataclass
class _Book:
    """One strategy's view of one symbol: its indicator state and open position."""

    strategy: Strategy
    position: int = 0


@dataclass
class _Symbol:
    books: list[_Book]
    last_time: datetime | None = None


@dataclass
class TradingEngine:
    """Turns each symbol's quotes, a bar per quote, into the orders of every strategy.

    A quote not newer than the symbol's last one is ignored, so a duplicated or replayed quote
    changes nothing; order ids are deterministic, so re-running the same quotes gives the same
    orders.
    """

    strategy_names: list[str]
    notional: float = 10_000.0
    _symbols: dict[str, _Symbol] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_names(self.strategy_names)

    def on_quote(self, quote: Quote) -> list[Order]:
        state = self._symbols.get(quote.symbol)
        if state is None:
            books = [_Book(create(name)) for name in self.strategy_names]
            state = self._symbols[quote.symbol] = _Symbol(books)
        if state.last_time is not None and quote.timestamp <= state.last_time:
            return []
        state.last_time = quote.timestamp
        orders = []
        for book in state.books:
            side = book.strategy.signal(quote.price, long=book.position > 0)
            quantity = shares_for(self.notional, quote.price) if side == "BUY" else book.position
            if side is None or quantity <= 0:
                continue
            book.position += quantity if side == "BUY" else -quantity
            orders.append(
                Order(
                    order_id=order_id(quote.symbol, book.strategy.name, quote.timestamp, side),
                    symbol=quote.symbol,
                    side=side,
                    quantity=quantity,
                    price=quote.price,
                    timestamp=quote.timestamp,
                    strategy=book.strategy.name,
                    quote_timestamp=quote.timestamp,
                )
            )
        return orders
