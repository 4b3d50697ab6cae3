"""What every strategy shares: its parameters, its spec string and ta4j's crossing rule."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from kafkatrade.models import Side


class StrategyError(ValueError):
    """A strategy spec a user gave is wrong: unknown name, unknown parameter or bad value."""


# The CLI catches `UnknownStrategy`; it is the same class, so every strategy error is caught.
UnknownStrategy = StrategyError


@dataclass(frozen=True)
class Param:
    """A strategy parameter: its name, type (int or float), default and allowed range."""

    name: str
    kind: type
    default: int | float
    minimum: float | None = None  # inclusive
    above: float | None = None  # exclusive lower bound
    below: float | None = None  # exclusive upper bound

    def parse(self, text: str, spec: str) -> int | float:
        try:
            value = self.kind(text)
        except ValueError:
            kind = "an integer" if self.kind is int else "a number"
            raise StrategyError(
                f"strategy {spec!r}: {self.name} must be {kind}, not {text!r}"
            ) from None
        return self.check(value, spec)

    def check(self, value: int | float, spec: str) -> int | float:
        if isinstance(value, float) and not math.isfinite(value):
            raise StrategyError(f"strategy {spec!r}: {self.name} must be finite, not {value}")
        if self.minimum is not None and value < self.minimum:
            raise StrategyError(
                f"strategy {spec!r}: {self.name} must be at least {_text(self.minimum)}, "
                f"not {_text(value)}"
            )
        if self.above is not None and value <= self.above:
            raise StrategyError(
                f"strategy {spec!r}: {self.name} must be above {_text(self.above)}, "
                f"not {_text(value)}"
            )
        if self.below is not None and value >= self.below:
            raise StrategyError(
                f"strategy {spec!r}: {self.name} must be below {_text(self.below)}, "
                f"not {_text(value)}"
            )
        return value


def _text(value: float) -> str:
    """A parameter value as a spec writes it: `5`, `2`, `2.5` (an integral float loses `.0`)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def period(name: str, default: int) -> Param:
    return Param(name, int, default, minimum=2)


class BaseStrategy:
    """A strategy is fed the close of every bar and answers BUY, SELL or nothing.

    Subclasses declare `kind` (the registry name), `params` and `describe(params)`; they
    implement `signal`. `name` is the tag of the strategy's orders: its kind when every
    parameter has its default, else the canonical spec, `kind:p1=v1:p2=v2` with every
    parameter in declared order (`ema_cross:fast=5:slow=20`).
    """

    kind: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    name: str
    warmup: int  # bars before the first possible signal

    def __init__(self, **values: int | float) -> None:
        self.values = self.validated(values)
        self.name = self.canonical(self.values)
        self.warmup = 0

    @classmethod
    def validated(cls, values: dict[str, int | float], spec: str | None = None) -> dict:
        """All the parameters, defaults filled in, each checked; StrategyError if one is bad."""
        spec = spec or cls.kind
        known = {p.name: p for p in cls.params}
        for key in values:
            if key not in known:
                takes = ", ".join(known) or "no parameters"
                raise StrategyError(
                    f"strategy {spec!r}: unknown parameter {key!r}; {cls.kind} takes {takes}"
                )
        full = {}
        for p in cls.params:
            value = values.get(p.name, p.default)
            if p.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise StrategyError(f"strategy {spec!r}: {p.name} must be an integer")
            full[p.name] = p.check(p.kind(value), spec)
        cls.check_together(full, spec)
        return full

    @classmethod
    def check_together(cls, values: dict, spec: str) -> None:
        """Checks between parameters (fast < slow); StrategyError when they do not hold."""

    @classmethod
    def canonical(cls, values: dict) -> str:
        if all(values[p.name] == p.default for p in cls.params):
            return cls.kind
        return ":".join([cls.kind, *(f"{p.name}={_text(values[p.name])}" for p in cls.params)])

    def signal(self, close: float, long: bool) -> Side | None:
        """The signal of this bar's close, given whether the position is long."""
        raise NotImplementedError

    def indicator_values(self) -> dict[str, float]:
        """The strategy's indicator values on the last bar (empty during warm-up)."""
        return {}


class Crossing:
    """ta4j's CrossedUp/CrossedDown rules on the difference `a - b` of two series.

    `a` crosses up `b` on a bar when a > b there and, on the last earlier bar where they
    differed, a < b (bars where a == b are skipped, as ta4j's CrossIndicator does). An
    equality alone is never a crossing, and neither is touching and going back. Only bars
    fed to `update` count: a strategy feeds it from its first warm bar, so there is no
    crossing on that first bar nor before it.
    """

    __slots__ = ("_side",)

    def __init__(self) -> None:
        self._side = 0  # sign of a - b on the last bar where they differed; 0: none yet

    def update(self, a: float, b: float) -> int:
        """+1 when a crossed up b on this bar, -1 when it crossed down, else 0."""
        side = 1 if a > b else -1 if a < b else 0
        if side == 0:
            return 0
        previous, self._side = self._side, side
        return side if previous == -side else 0
