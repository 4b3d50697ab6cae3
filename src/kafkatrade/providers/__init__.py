"""Quote providers: where the downloader gets its quotes.

A provider is anything with the methods of `Provider`; `iex.IexProvider` speaks the IEX Cloud
API the article used, which the local market replay server also speaks. Another provider is
one more module here that returns the same `Quote`s and raises `ProviderError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from kafkatrade.models import Quote


class ProviderError(RuntimeError):
    """A call to the provider failed (unreachable, timed out, HTTP error, garbage).

    The one-line message says which call and why, and never holds the API key: the caller logs
    it and backs off. `retry_after`: seconds the provider asked to wait before the next call
    (its `Retry-After` on a 429 or 503), None when it did not say; the caller waits at least
    that long.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Provider(Protocol):
    name: str
    has_bars: bool
    """True when `bars_since` returns every bar since a cursor (no gaps between polls)."""

    def quotes(self, symbols: Iterable[str]) -> dict[str, Quote | None]:
        """The latest quote of each symbol; None for a symbol without one (or unknown)."""
        ...

    def bars_since(self, cursors: Mapping[str, int]) -> dict[str, list[Quote]]:
        """Per symbol, its bars newer than its cursor (epoch ms), oldest first."""
        ...

    def close(self) -> None: ...
