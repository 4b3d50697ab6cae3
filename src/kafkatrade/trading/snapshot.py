"""A symbol's trading state as bytes, for the bot's changelog topic.

The state is a tree of small objects (bar builder, strategies, indicators with their running
sums and windows). It is pickled, and read back by an unpickler that only builds the classes
of the trading modules and the few standard ones they hold (the "restricting globals" recipe
of the `pickle` documentation): a record on the changelog can set a state, never run code.
A snapshot made with other strategies or another bar size, or by an incompatible version,
is refused with `SnapshotMismatch`; the bot then rebuilds the state from the quotes.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

FORMAT = 1

# The standard classes a state holds; the others are classes of the trading modules.
_STANDARD = {
    ("collections", "deque"),
    ("datetime", "datetime"),
    ("datetime", "timezone"),
    ("datetime", "timedelta"),
}
_TRADING_MODULES = ("kafkatrade.indicators", "kafkatrade.strategies", "kafkatrade.trading")


class SnapshotMismatch(ValueError):
    """A snapshot this engine cannot take: other settings, or another version's classes."""


class _StateUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _STANDARD:
            return super().find_class(module, name)
        if module.startswith(_TRADING_MODULES):
            found = super().find_class(module, name)
            if isinstance(found, type):  # a class, never a function to call
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a trading state")


def dump(settings: tuple, state: object) -> bytes:
    """`state` with the engine settings that made it (strategies, bar size, risk limits)."""
    return pickle.dumps((FORMAT, settings, state), protocol=pickle.HIGHEST_PROTOCOL)


def load(settings: tuple, data: bytes) -> object:
    """The state of `dump`, when it was made under the same `settings`."""
    try:
        version, made_with, state = _StateUnpickler(io.BytesIO(data)).load()
    except Exception as error:  # any corrupt or foreign payload: pickle raises many kinds
        raise SnapshotMismatch(f"unreadable snapshot: {error}") from None
    if version != FORMAT:
        raise SnapshotMismatch(f"snapshot format {version!r}, expected {FORMAT}")
    if made_with != settings:
        raise SnapshotMismatch(f"snapshot made with {made_with!r}, running with {settings!r}")
    return state
