"""The IEX Cloud style quote client, over `requests`.

It uses IEX's batch endpoint, `GET {base}/stock/market/batch?symbols=A,B&types=quote`, at most
100 symbols a request as IEX allows, and, where the server has it (the local market replay
server does), `types=bars&since=<epoch ms>`: every bar since a cursor, so a poll never misses a
bar. The API key goes in IEX's `token` query parameter and never into a message or log.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from urllib.parse import quote as url_quote
from urllib.parse import quote_plus, urlsplit

import requests

from kafkatrade import metrics
from kafkatrade.models import InvalidRecord, Quote, epoch_ms, from_epoch_ms, validate_symbol
from kafkatrade.providers import ProviderError

BATCH_LIMIT = 100
BATCH_PATH = "/stock/market/batch"
_TOKEN = re.compile(r"(?i)\btoken=[^&\s\"']*")


class IexProvider:
    """Quotes from an IEX-style API at `base_url` (e.g. `http://127.0.0.1:8080` or
    `https://cloud.iexapis.com/stable`).

    `api_key`: sent as the `token` parameter (default: none). `timeout`: seconds for every
    call (default 5). `session`: a `requests.Session` to use (default: one of its own, closed
    by `close()`). `source`: the `source` of the quotes made (default `iex`). `has_bars`:
    whether the server answers `types=bars` (default True, as the replay server does).
    """

    name = "iex"

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: float = 5.0,
        session: requests.Session | None = None,
        *,
        source: str = "iex",
        has_bars: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Where a message says a call went: without any user:password@ of the URL.
        parts = urlsplit(self.base_url)
        public = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        self._endpoint = f"GET {public}{BATCH_PATH}"
        self.timeout = timeout
        self.source = source
        self.has_bars = has_bars
        self._api_key = api_key or None
        self._own_session = session is None
        self._session = session if session is not None else requests.Session()

    def __repr__(self) -> str:  # no api key here either
        return f"IexProvider({self.base_url!r}, timeout={self.timeout})"

    def quotes(self, symbols: Iterable[str]) -> dict[str, Quote | None]:
        """The latest quote of each symbol; None when the server has no price for it yet or
        does not know the symbol."""
        wanted = _unique(symbols)
        result: dict[str, Quote | None] = dict.fromkeys(wanted)
        for chunk in _chunks(wanted, BATCH_LIMIT):
            answer = self._batch(chunk, {"types": "quote"})
            for symbol in chunk:
                document = self._entry(answer, symbol).get("quote")
                if document is not None:
                    result[symbol] = self._quote(symbol, document)
        return result

    def bars_since(self, cursors: Mapping[str, int]) -> dict[str, list[Quote]]:
        """Per symbol, its bars with a time after its cursor (epoch ms), oldest first.

        One batch request per 100 symbols with `since` = the smallest cursor of the batch;
        symbols are grouped by cursor so that a new symbol (cursor 0) does not make the others
        download their whole history again.
        """
        result: dict[str, list[Quote]] = {symbol: [] for symbol in _unique(cursors)}
        ordered = sorted(result, key=lambda symbol: cursors[symbol])
        for chunk in _chunks(ordered, BATCH_LIMIT):
            since = int(min(cursors[symbol] for symbol in chunk))
            answer = self._batch(chunk, {"types": "bars", "since": str(since)})
            for symbol in chunk:
                documents = self._entry(answer, symbol).get("bars") or []
                if not isinstance(documents, list):
                    raise ProviderError(f"{self._endpoint}: bars of {symbol} are not a list")
                bars = [self._quote(symbol, document) for document in documents]
                bars = [
                    bar
                    for bar in bars
                    if bar is not None and epoch_ms(bar.timestamp) > cursors[symbol]
                ]
                result[symbol] = sorted(bars, key=lambda bar: bar.timestamp)
        return result

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    def __enter__(self) -> IexProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _batch(self, symbols: list[str], params: dict[str, str]) -> dict:
        params = {"symbols": ",".join(symbols), **params}
        if self._api_key:
            params["token"] = self._api_key
        what = self._endpoint
        started = time.perf_counter()
        try:
            response = self._session.get(
                self.base_url + BATCH_PATH, params=params, timeout=self.timeout
            )
        except requests.Timeout:
            self._count("timeout", started)
            raise ProviderError(f"{what}: no answer within {self.timeout:g} s") from None
        except requests.ConnectionError as error:
            self._count("connection_error", started)
            raise ProviderError(f"{what}: cannot connect ({self._reason(error)})") from None
        except requests.RequestException as error:
            self._count("request_error", started)
            raise ProviderError(f"{what}: {self._redact(str(error))}") from None
        self._count(str(response.status_code), started)
        if response.status_code != 200:
            hint = " (check the API key)" if response.status_code in (401, 403) else ""
            raise ProviderError(
                f"{what}: HTTP {response.status_code}{hint}: {self._error_text(response)}"
            )
        try:
            answer = response.json()
        except ValueError:
            raise ProviderError(f"{what}: the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise ProviderError(f"{what}: the answer is not a JSON object")
        return answer

    def _count(self, status: str, started: float) -> None:
        """One request in `kafkatrade_provider_requests_total` and its duration."""
        metrics.PROVIDER_REQUESTS.labels(self.name, status).inc()
        metrics.PROVIDER_REQUEST_SECONDS.labels(self.name).observe(time.perf_counter() - started)

    def _entry(self, answer: dict, symbol: str) -> dict:
        """The answer's part for one symbol; {} when the server left it out (unknown symbol)."""
        entry = answer.get(symbol, {})
        if not isinstance(entry, dict):
            raise ProviderError(f"{self._endpoint}: the entry of {symbol} is not a JSON object")
        return entry

    def _quote(self, symbol: str, document: object) -> Quote | None:
        """The IEX quote as a `Quote`; None when it has no price (no bar yet)."""
        if not isinstance(document, dict):
            raise ProviderError(f"{self._endpoint}: quote of {symbol} is not a JSON object")
        if document.get("latestPrice") is None:
            return None
        try:
            updated = document.get("latestUpdate")
            if isinstance(updated, bool) or not isinstance(updated, int | float):
                raise InvalidRecord(f"latestUpdate must be epoch milliseconds, not {updated!r}")
            bar = {
                name: _number(document[name], name)
                for name in ("open", "high", "low", "close")
                if document.get(name) is not None
            }
            volume = document.get("latestVolume")
            return Quote(
                symbol=symbol,
                price=_number(document["latestPrice"], "latestPrice", positive=True),
                volume=0.0 if volume is None else _number(volume, "latestVolume"),
                timestamp=from_epoch_ms(int(updated)),
                source=self.source,
                **bar,
            )
        except (InvalidRecord, OverflowError, OSError, ValueError) as error:
            raise ProviderError(f"{self._endpoint}: bad quote of {symbol}: {error}") from None

    def _redact(self, text: str) -> str:
        text = _TOKEN.sub("token=***", text)
        if self._api_key:
            for form in {self._api_key, quote_plus(self._api_key), url_quote(self._api_key)}:
                text = text.replace(form, "***")
        return text

    def _reason(self, error: Exception) -> str:
        """The innermost cause, e.g. `Connection refused`, without the URL (which holds the key)."""
        cause: BaseException = error
        while cause.__cause__ is not None or cause.__context__ is not None:
            cause = cause.__cause__ or cause.__context__
        text = str(cause)
        # urllib3 writes "<connection object at 0x...>: Failed to establish ...: [Errno 111] ..."
        text = text.rsplit("]", 1)[-1].strip() if "[Errno" in text else text
        return self._redact(text)[:200] or type(cause).__name__

    def _error_text(self, response: requests.Response) -> str:
        try:
            document = response.json()
            text = document["error"] if isinstance(document, dict) else response.text
        except (ValueError, KeyError):
            text = response.text
        text = " ".join(str(text).split())[:200]
        return self._redact(text) or response.reason or "no reason given"


def _unique(symbols: Iterable[str]) -> list[str]:
    """The symbols once each, in order; an invalid one is the caller's bug (InvalidRecord)."""
    return list(dict.fromkeys(validate_symbol(symbol) for symbol in symbols))


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _number(value: object, name: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRecord(f"{name} must be a finite number, not {json.dumps(value)[:40]}")
    if value < 0 or (positive and value == 0):
        raise InvalidRecord(
            f"{name} must be {'positive' if positive else '0 or more'}, not {value}"
        )
    return float(value)
