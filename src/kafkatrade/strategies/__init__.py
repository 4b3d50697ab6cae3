"""Trading strategies by name: each turns a stream of closes into BUY/SELL signals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from kafkatrade.models import Side
from kafkatrade.strategies.sma import SmaReversion, SmaTrend


class Strategy(Protocol):
    name: str

    def signal(self, close: float, long: bool) -> Side | None:
        """The signal of this bar's close, given whether the position is long."""


class UnknownStrategy(ValueError):
    """A strategy name that is not in the registry."""


REGISTRY: dict[str, Callable[[], Strategy]] = {
    SmaTrend.name: SmaTrend,
    SmaReversion.name: SmaReversion,
}


def check_names(names: list[str]) -> list[str]:
    """The names themselves when every one is known; UnknownStrategy naming the first unknown."""
    if not names:
        raise UnknownStrategy("no strategy given; known strategies: " + ", ".join(REGISTRY))
    for name in names:
        if name not in REGISTRY:
            raise UnknownStrategy(
                f"unknown strategy {name!r}; known strategies: {', '.join(REGISTRY)}"
            )
    if len(set(names)) != len(names):
        raise UnknownStrategy(f"a strategy is named twice in {','.join(names)}")
    return names


def create(name: str) -> Strategy:
    check_names([name])
    return REGISTRY[name]()
