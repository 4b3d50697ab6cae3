"""Per-symbol trading state: bars from quotes, one position per symbol and strategy, orders
from signals, sized and limited by the risk rules."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kafkatrade.models import Order, Quote, Side, order_id
from kafkatrade.strategies import Strategy, check_names, create
from kafkatrade.trading import snapshot
from kafkatrade.trading.bars import Bar, BarBuilder, check_bar

if TYPE_CHECKING:
    from kafkatrade.config import Settings

# Why a signal made no order (engine.rejections) and why a quote made no bar (dropped_quotes).
ZERO_QUANTITY = "zero_quantity"  # the notional buys less than one share
MAX_POSITION = "max_position"  # max_position_value buys less than one share
# Why a SELL was made (Order.strategy stays the strategy's name; see `exits`).
STOP_LOSS = "stop_loss"
TAKE_PROFIT = "take_profit"


def shares_for(notional: float, price: float) -> int:
    """Whole shares that `notional` buys at `price` (0 when one share costs more)."""
    return math.floor(notional / price)


@dataclass
class _Book:
    """One strategy's view of one symbol: its indicator state and open position."""

    strategy: Strategy
    position: int = 0
    entry_price: float = 0.0


@dataclass
class _Symbol:
    books: list[_Book]
    bars: BarBuilder


@dataclass
class TradingEngine:
    """Turns each symbol's quotes into bars, and each closed bar into the orders of every
    strategy. Pure: no Kafka, no database, no clock; the same quotes give the same orders.

    - `strategy_names`: strategy specs (`sma_trend`, `ema_cross:fast=5:slow=20`), validated
      here (StrategyError); each strategy keeps its own position per symbol and tags its
      orders with its canonical name.
    - `notional`: money spent on each BUY (the article's orderLimit, 10000); the quantity is
      `floor(notional / close)` and a signal that buys 0 shares is rejected (`zero_quantity`).
    - `bar`: `tick` (a bar per quote, default) or `1m`, `5m`, `15m`, `1h`, `1d` (see
      `trading.bars`). An order's `timestamp` and id use the bar's time (the window start for
      time bars); its `quote_timestamp` is the quote that closed the bar; its price the close.
    - `max_position_value`: the most a position (one symbol, one strategy) may be worth at
      entry; the BUY quantity is capped to `floor(max_position_value / close)`, and a signal
      capped to 0 shares is rejected (`max_position`). None: no cap.
    - `stop_loss_pct`, `take_profit_pct`: in percent of the entry price. A long position
      whose close is below `entry * (1 - stop_loss_pct / 100)`, or above
      `entry * (1 + take_profit_pct / 100)`, is sold whole on that bar, tagged with the
      strategy that opened it, when the strategy itself did not sell. None: off.

    A quote not newer than its symbol's last is ignored (`dropped_quotes[(symbol, "stale")]`)
    and a quote older than the open bar is dropped (`dropped_quotes[(symbol, "late")]`), so a
    duplicated or replayed quote changes nothing; order ids are deterministic
    (`symbol:strategy:bar time:side`). `rejections[(strategy, reason)]` counts the signals
    that made no order; `exits[(strategy, reason)]` the stop-loss and take-profit sales.
    """

    strategy_names: Sequence[str]
    notional: float = 10_000.0
    bar: str = "tick"
    max_position_value: float | None = None
    stop_loss_pct: float | None = None
    take_profit_pct: float | None = None
    rejections: Counter = field(default_factory=Counter, init=False)
    exits: Counter = field(default_factory=Counter, init=False)
    dropped_quotes: Counter = field(default_factory=Counter, init=False)
    _symbols: dict[str, _Symbol] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.strategy_names = list(self.strategy_names)
        self.names = check_names(self.strategy_names)
        check_bar(self.bar)

    @classmethod
    def from_settings(cls, settings: Settings, specs: Sequence[str] | None = None) -> TradingEngine:
        """The engine the bot runs with these settings (`specs` replacing its strategies):
        the bot and the backtest build it here, so they trade alike."""
        return cls(
            list(specs) if specs else settings.strategy_names,
            settings.order_notional,
            bar=settings.bar,
            max_position_value=settings.max_position_value,
            stop_loss_pct=settings.stop_loss_pct,
            take_profit_pct=settings.take_profit_pct,
        )

    @property
    def late_quotes(self) -> int:
        return sum(n for (_, reason), n in self.dropped_quotes.items() if reason == "late")

    def strategies(self, symbol: str) -> list[Strategy]:
        """The strategy objects trading `symbol` (for their indicator values), in spec order."""
        state = self._symbols.get(symbol)
        return [book.strategy for book in state.books] if state else []

    def snapshot(self, symbol: str) -> bytes:
        """The state of `symbol` (bars, indicators, positions) as bytes, for `restore`."""
        return snapshot.dump(self._identity(), self._symbols[symbol])

    def restore(self, symbol: str, data: bytes) -> None:
        """Takes `symbol`'s state from a `snapshot` of an engine with the same settings;
        `snapshot.SnapshotMismatch` when it was made with others."""
        state = snapshot.load(self._identity(), data)
        if not isinstance(state, _Symbol):
            raise snapshot.SnapshotMismatch(f"not a symbol's state: {type(state).__name__}")
        self._symbols[symbol] = state

    def _identity(self) -> tuple:
        """What a state depends on besides the quotes: the same quotes under other settings
        make another state."""
        return (
            tuple(self.names),
            self.notional,
            self.bar,
            self.max_position_value,
            self.stop_loss_pct,
            self.take_profit_pct,
        )

    def on_quote(self, quote: Quote) -> list[Order]:
        state = self._symbols.get(quote.symbol)
        if state is None:
            books = [_Book(create(spec)) for spec in self.strategy_names]
            state = self._symbols[quote.symbol] = _Symbol(books, BarBuilder(self.bar))
        bar = state.bars.add(quote)
        if bar is None:
            if state.bars.last_drop:
                self.dropped_quotes[(quote.symbol, state.bars.last_drop)] += 1
            return []
        return [order for book in state.books if (order := self._trade(book, bar))]

    def _trade(self, book: _Book, bar: Bar) -> Order | None:
        close = bar.close
        strategy = book.strategy
        side = strategy.signal(close, long=book.position > 0)
        if side is None and book.position > 0:
            side = self._exit(book, close)
        if side is None:
            return None
        if side == "SELL":
            quantity = book.position
        else:
            quantity = shares_for(self.notional, close)
            reason = ZERO_QUANTITY
            if self.max_position_value is not None:
                capped = shares_for(self.max_position_value, close)
                if capped < quantity:
                    quantity, reason = capped, MAX_POSITION
            if quantity <= 0:
                self.rejections[(strategy.name, reason)] += 1
                return None
            book.entry_price = close
        book.position += quantity if side == "BUY" else -quantity
        return _order(bar, strategy.name, side, quantity)

    def _exit(self, book: _Book, close: float) -> Side | None:
        """SELL when the stop-loss or the take-profit of the open position is hit."""
        # In hundredths, so that round figures compare exactly: entry 12, 20%: 14.4 holds
        # (12 * (1 + 20 / 100) is 14.399999999999999 in floating point, 12 * 120 is 1440).
        entry = book.entry_price
        if self.stop_loss_pct is not None and close * 100 < entry * (100 - self.stop_loss_pct):
            self.exits[(book.strategy.name, STOP_LOSS)] += 1
            return "SELL"
        if self.take_profit_pct is not None and close * 100 > entry * (100 + self.take_profit_pct):
            self.exits[(book.strategy.name, TAKE_PROFIT)] += 1
            return "SELL"
        return None


def _order(bar: Bar, strategy: str, side: Side, quantity: int) -> Order:
    return Order(
        order_id=order_id(bar.symbol, strategy, bar.time, side),
        symbol=bar.symbol,
        side=side,
        quantity=quantity,
        price=bar.close,
        timestamp=bar.time,
        strategy=strategy,
        quote_timestamp=bar.closed_by or bar.time,
    )
