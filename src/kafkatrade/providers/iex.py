"""The IEX Cloud style quote client, over `requests`.

It uses IEX's batch endpoint, `GET {base}/stock/market/batch?symbols=A,B&types=quote`, at most
100 symbols a request as IEX allows, and, where the server has it (the local market replay
server does), `types=bars&since=<epoch ms>`: every bar since a cursor, so a poll never misses a
bar. The API key goes in IEX's `token` query parameter and never into a message or log.

Whatever the server answers, a call ends in quotes or in a `ProviderError`: no answer in time,
a refused connection, an HTTP error (with the `Retry-After` of a 429 or 503 on the error), a
body that is not JSON (cut short, HTML), or JSON of the wrong shape or with wrong values (a
list for an object, text or NaN for a number). When only some symbols' parts of a batch
answer are garbage, those symbols get nothing this time (a warning says which) and the others
their quotes: one bad bar does not hold back every symbol. Each call is counted once in
`kafkatrade_provider_requests_total{provider,status}`: status is `200` for a good answer, the
HTTP code of an error answer, `invalid_answer` for a 200 whose body is garbage, or `timeout`,
`connection_error`, `request_error` when no whole answer came.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from typing import TypeVar
from urllib.parse import quote as url_quote
from urllib.parse import quote_plus, urlsplit

import requests
import urllib3

from kafkatrade import metrics
from kafkatrade.models import InvalidRecord, Quote, epoch_ms, from_epoch_ms, validate_symbol
from kafkatrade.providers import ProviderError

log = logging.getLogger(__name__)

BATCH_LIMIT = 100
BATCH_PATH = "/stock/market/batch"
# An answer larger than this is refused: bars of 100 symbols since a cursor are far smaller.
MAX_ANSWER_BYTES = 64 * 2**20
_CHUNK_BYTES = 64 * 1024
_TOKEN = re.compile(r"(?i)\btoken=[^&\s\"']*")
_SECONDS = re.compile(r"\d+")

T = TypeVar("T")


class _CallFailed(ProviderError):
    """A ProviderError that knows the status label of its call in the requests metric."""

    def __init__(self, status: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status


class IexProvider:
    """Quotes from an IEX-style API at `base_url` (e.g. `http://127.0.0.1:8080` or
    `https://cloud.iexapis.com/stable`).

    `api_key`: sent as the `token` parameter (default: none). `timeout`: seconds for every
    call (default 5): the answer's headers must come within `timeout`, and its whole body
    within `timeout` more, so that a server that trickles its answer cannot hold a poll.
    `session`: a `requests.Session` to use (default: one of its own, closed by `close()`).
    `source`: the `source` of the quotes made (default `iex`). `has_bars`: whether the server
    answers `types=bars` (default True, as the replay server does).
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
            result.update(
                self._batch(chunk, {"types": "quote"}, partial(self._quotes, chunk=chunk))
            )
        return result

    def _quotes(self, answer: dict, chunk: list[str]) -> dict[str, Quote | None]:
        def read(symbol: str) -> Quote | None:
            document = self._entry(answer, symbol).get("quote")
            return None if document is None else self._quote(symbol, document)

        return self._per_symbol(chunk, read, lambda: None)

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
            params = {"types": "bars", "since": str(since)}
            result.update(
                self._batch(chunk, params, partial(self._bars, chunk=chunk, cursors=cursors))
            )
        return result

    def _bars(
        self, answer: dict, chunk: list[str], cursors: Mapping[str, int]
    ) -> dict[str, list[Quote]]:
        def read(symbol: str) -> list[Quote]:
            documents = self._entry(answer, symbol).get("bars")
            if documents is None:
                documents = []
            if not isinstance(documents, list):
                raise ProviderError(f"{self._endpoint}: bars of {symbol} are not a list")
            bars = [self._quote(symbol, document) for document in documents]
            bars = [
                bar for bar in bars if bar is not None and epoch_ms(bar.timestamp) > cursors[symbol]
            ]
            return sorted(bars, key=lambda bar: bar.timestamp)

        return self._per_symbol(chunk, read, list)

    def _per_symbol(
        self, chunk: list[str], read: Callable[[str], T], nothing: Callable[[], T]
    ) -> dict[str, T]:
        """Each symbol's part of an answer, as `read` makes it.

        A symbol whose part is garbage gets `nothing()` this time, with a warning: its cursor
        stays, so it waits (and its quote age grows) while the other symbols go on. When every
        part is garbage, the answer is (ProviderError, counted as `invalid_answer`).
        """
        found: dict[str, T] = {}
        errors: list[ProviderError] = []
        for symbol in chunk:
            try:
                found[symbol] = read(symbol)
            except ProviderError as error:
                errors.append(error)
                found[symbol] = nothing()
        if errors and len(errors) == len(chunk):
            raise errors[0]
        for error in errors:
            log.warning("provider answer partly bad: %s; that symbol waits", error)
        return found

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    def __enter__(self) -> IexProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _batch(self, symbols: list[str], params: dict[str, str], read: Callable[[dict], T]) -> T:
        """One batch call: the answer, as `read` makes it of the JSON object, or ProviderError.

        Counted once in the requests metric, with the status the call ended in.
        """
        params = {"symbols": ",".join(symbols), **params}
        if self._api_key:
            params["token"] = self._api_key
        started = time.perf_counter()
        status = "invalid_answer"  # unless the call fails before its body is read
        try:
            answer = self._json(self._get(params, started))
            result = read(answer)
            status = "200"
            return result
        except _CallFailed as error:
            status = error.status
            raise
        finally:
            self._count(status, started)

    def _get(self, params: dict[str, str], started: float) -> bytes:
        """The body of a 200 answer; _CallFailed for no answer, an error answer or a body
        that did not arrive whole."""
        what = self._endpoint
        try:
            response = self._session.get(
                self.base_url + BATCH_PATH, params=params, timeout=self.timeout, stream=True
            )
        except requests.Timeout:
            raise _CallFailed("timeout", f"{what}: no answer within {self.timeout:g} s") from None
        except requests.ConnectionError as error:
            raise _CallFailed(
                "connection_error", f"{what}: cannot connect ({self._reason(error)})"
            ) from None
        except requests.RequestException as error:
            raise _CallFailed("request_error", f"{what}: {self._redact(str(error))}") from None
        with response:
            code = response.status_code
            body = self._body(response, time.perf_counter() + self.timeout)
        if code != 200:
            hint = " (check the API key)" if code in (401, 403) else ""
            retry_after = None
            if code in (429, 503):
                retry_after = _retry_after(response.headers.get("Retry-After"))
            wait = "" if retry_after is None else f" (retry after {retry_after:g} s)"
            raise _CallFailed(
                str(code),
                f"{what}: HTTP {code}{hint}: {self._error_text(body, response.reason)}{wait}",
                retry_after=retry_after,
            )
        return body

    def _body(self, response: requests.Response, deadline: float) -> bytes:
        """The whole body: at most MAX_ANSWER_BYTES, done before `deadline`.

        Read with `read1`, which returns what has arrived: `iter_content` would wait for a
        whole chunk, byte after trickled byte, however long that takes.
        """
        what = self._endpoint
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := response.raw.read1(_CHUNK_BYTES, decode_content=True):
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise _CallFailed(
                        "invalid_answer",
                        f"{what}: the answer is larger than {MAX_ANSWER_BYTES // 2**20} MiB",
                    )
                if time.perf_counter() > deadline:
                    raise _CallFailed(
                        "timeout", f"{what}: the answer did not arrive within {self.timeout:g} s"
                    )
                chunks.append(chunk)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            if time.perf_counter() > deadline or isinstance(
                error, urllib3.exceptions.TimeoutError | TimeoutError
            ):
                raise _CallFailed(
                    "timeout", f"{what}: the answer did not arrive within {self.timeout:g} s"
                ) from None
            raise _CallFailed(
                "connection_error", f"{what}: the answer was cut off ({self._reason(error)})"
            ) from None
        return b"".join(chunks)

    def _json(self, body: bytes) -> dict:
        """The body as a JSON object; ProviderError for anything else (cut short, HTML, a list)."""
        try:
            answer = json.loads(body)
        except json.JSONDecodeError as error:
            raise ProviderError(
                f"{self._endpoint}: the answer is not JSON ({error.msg}; byte {error.pos} "
                f"of {len(body)})"
            ) from None
        except (ValueError, RecursionError) as error:  # not UTF-8; nested beyond reason
            raise ProviderError(
                f"{self._endpoint}: the answer is not JSON ({type(error).__name__})"
            ) from None
        if not isinstance(answer, dict):
            raise ProviderError(f"{self._endpoint}: the answer is not a JSON object")
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
                # Positive, as the Quotes contract (models.Quote) wants: a 0 would be refused
                # by every reader of the topic.
                name: _number(document[name], name, positive=True)
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

    def _error_text(self, body: bytes, reason: str | None) -> str:
        """The error an error answer gives, short and without the key."""
        raw = body.decode("utf-8", errors="replace")
        try:
            document = json.loads(body)
            text = document["error"] if isinstance(document, dict) else raw
        except (ValueError, KeyError, TypeError, RecursionError):
            text = raw
        text = " ".join(str(text).split())[:200]
        return self._redact(text) or reason or "no reason given"


def _retry_after(value: str | None) -> float | None:
    """Seconds a `Retry-After` header asks to wait (delta-seconds or an HTTP date); None when
    there is none or it cannot be read."""
    if value is None:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


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
