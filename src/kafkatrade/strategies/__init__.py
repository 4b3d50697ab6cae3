"""Trading strategies by spec: each turns a stream of closes into BUY/SELL signals.

A spec is a registry name and optional parameters, `name[:param=value...]`:
`sma_trend`, `ema_cross:fast=5:slow=20`. `create(spec)` builds a fresh strategy (its own
indicator state) and `check_names(specs)` validates a list of them up front, so a bad name
or parameter stops a service at startup with one line (`StrategyError`).

| name | parameters (defaults) | rule |
|---|---|---|
| `sma_trend` | window=10 | flat, close > SMA: BUY; long, close < SMA: SELL |
| `sma_reversion` | window=10 | flat, close < SMA: BUY; long, close > SMA: SELL |
| `ema_cross` | fast=12, slow=26 | EMA(fast) crosses above EMA(slow): BUY; below: SELL |
| `rsi_reversion` | period=14, low=30, high=70 | RSI crosses below low: BUY; above high: SELL |
| `macd_signal` | fast=12, slow=26, signal=9 | MACD crosses above signal: BUY; below: SELL |
| `bollinger_reversion` | period=20, k=2 | close crosses below lower band: BUY; above upper: SELL |

Each class's docstring states its rule exactly. Orders are tagged with `Strategy.name`: the
bare name when every parameter is the default, else the canonical spec (every parameter, in
the order above: `ema_cross:fast=5:slow=20`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from kafkatrade.models import Side
from kafkatrade.strategies.base import BaseStrategy, Crossing, Param, StrategyError, UnknownStrategy
from kafkatrade.strategies.crossovers import BollingerReversion, EmaCross, MacdSignal, RsiReversion
from kafkatrade.strategies.sma import SmaReversion, SmaTrend

__all__ = [
    "REGISTRY",
    "BaseStrategy",
    "Crossing",
    "Param",
    "Strategy",
    "StrategyError",
    "UnknownStrategy",
    "canonical",
    "check_names",
    "create",
    "parse",
]


class Strategy(Protocol):
    name: str
    warmup: int

    def signal(self, close: float, long: bool) -> Side | None:
        """The signal of this bar's close, given whether the position is long."""

    def indicator_values(self) -> dict[str, float]:
        """The strategy's indicator values on the last bar."""


REGISTRY: dict[str, type[BaseStrategy]] = {
    cls.kind: cls
    for cls in (SmaTrend, SmaReversion, EmaCross, RsiReversion, MacdSignal, BollingerReversion)
}


def parse(spec: str) -> tuple[type[BaseStrategy], dict[str, int | float]]:
    """The strategy class and its full, validated parameters; StrategyError when wrong."""
    text = spec.strip()
    name, *pairs = text.split(":")
    cls = REGISTRY.get(name.strip())
    if cls is None:
        raise StrategyError(
            f"unknown strategy {name.strip()!r}; known strategies: {', '.join(REGISTRY)}"
        )
    params = {p.name: p for p in cls.params}
    values: dict[str, int | float] = {}
    for pair in pairs:
        key, equals, raw = (part.strip() for part in pair.partition("="))
        if not equals or not key or not raw:
            raise StrategyError(
                f"strategy {text!r}: expected param=value after ':', not {pair!r} "
                f"(e.g. {cls.canonical({p.name: p.default for p in cls.params})}"
                f"{''.join(f':{p.name}={p.default}' for p in cls.params[:1])})"
            )
        if key not in params:
            takes = ", ".join(params) or "no parameters"
            raise StrategyError(
                f"strategy {text!r}: unknown parameter {key!r}; {cls.kind} takes {takes}"
            )
        if key in values:
            raise StrategyError(f"strategy {text!r}: parameter {key!r} given twice")
        values[key] = params[key].parse(raw, text)
    return cls, cls.validated(values, text)


def canonical(spec: str) -> str:
    """The tag of the orders of `spec`: `ema_cross:slow=20:fast=5` -> `ema_cross:fast=5:slow=20`,
    `ema_cross:fast=12` -> `ema_cross`."""
    cls, values = parse(spec)
    return cls.canonical(values)


def create(spec: str) -> BaseStrategy:
    """A new strategy, with its own indicator state, from its spec."""
    cls, values = parse(spec)
    return cls(**values)


def check_names(specs: Iterable[str]) -> list[str]:
    """The canonical names of the specs when every one is valid and none is repeated;
    StrategyError naming the first wrong one otherwise."""
    specs = list(specs)
    if not specs:
        raise StrategyError("no strategy given; known strategies: " + ", ".join(REGISTRY))
    names = [canonical(spec) for spec in specs]
    for name in names:
        if names.count(name) > 1:
            raise StrategyError(f"strategy {name!r} is given twice in {','.join(specs)}")
    return names
