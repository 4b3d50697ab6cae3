"""The market replay server: IEX-style quotes over real HTTP, from replayed market data.

Endpoints (symbols in paths are URL-encoded: `%5EGSPC` for `^GSPC`; an optional `token` query
parameter, an API key as IEX takes it, is accepted and ignored, and never logged):

- `GET /stock/{symbol}/quote`: the symbol's latest bar at or before the clock, as an IEX quote;
  a known symbol with no bar yet has `latestPrice` and `latestUpdate` null; an unknown one is
  a 404 `{"error": "unknown symbol XYZ"}`.
- `GET /stock/{symbol}/bars?since=<epoch ms>`: every bar newer than `since` (all without it)
  and at or before the clock, oldest first, so a slow poller misses nothing.
- `GET /stock/market/batch?symbols=A,B&types=quote[,bars][&since=<epoch ms>]`: per known
  symbol `{"quote": {...}, "bars": [...]}` as asked; unknown symbols are left out, as IEX does;
  at most 100 symbols per request, as IEX allows.
- `GET /status`: where the replay clock is (and, when faults are on, how many were served).

Errors are JSON `{"error": "..."}` with 400 (bad parameter), 404 (unknown path or symbol),
405 (not GET) or 500.

With `faults` (see `kafkatrade.market.faults`) a share of the GET requests but `/status` gets
a 500, a 429 with Retry-After, no answer at all, or a truncated body instead of its answer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from kafkatrade.config import ConfigError
from kafkatrade.market.faults import FaultDraw, Faults
from kafkatrade.market.replay import Replay, check_rate
from kafkatrade.marketdata import MarketData

log = logging.getLogger(__name__)

MAX_BATCH_SYMBOLS = 100
BATCH_TYPES = ("quote", "bars")
_TOKEN = re.compile(r"(?i)\btoken=[^&\s\"']*")


class BadRequestError(Exception):
    """A request parameter is wrong; the message is sent back to the client."""


def redact(text: str) -> str:
    """The text with the value of any `token=` query parameter masked."""
    return _TOKEN.sub("token=***", text)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, replay: Replay, access_log: bool, faults: FaultDraw | None) -> None:
        self.replay = replay
        self.access_log = access_log
        self.faults = faults
        # Set by close(): requests held by a `timeout` fault end at once.
        self.closing = threading.Event()
        # Open connections, so that close() also ends the kept-alive ones.
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"  # keep-alive: a poller reuses its connection
    server_version = "kafkatrade-market"
    timeout = 60  # seconds an idle kept-alive connection is held
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK hold the body back ~40 ms on a kept-alive connection.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        fault = self._fault()
        if fault == "500":
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "injected fault: 500"})
            return
        if fault == "429":
            retry_after = self.server.faults.faults.retry_after
            self._send(
                HTTPStatus.TOO_MANY_REQUESTS,
                {"error": "injected fault: too many requests"},
                headers={"Retry-After": str(retry_after)},
            )
            return
        if fault == "timeout":
            # Hold this connection's thread only; the server answers others meanwhile.
            self.server.closing.wait(self.server.faults.faults.hold)
            self.close_connection = True  # no answer, ever: the client has given up
            return
        try:
            status, document = self._answer()
        except BadRequestError as error:
            status, document = HTTPStatus.BAD_REQUEST, {"error": str(error)}
        except Exception:  # a bug: answer 500 and keep serving
            log.exception("market server failed on %s", redact(self.path))
            status, document = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"}
        self._send(status, document, truncate=fault == "truncated")

    def _fault(self) -> str | None:
        """The fault drawn for this request; `/status` never gets one."""
        draw = self.server.faults
        if draw is None or urlsplit(self.path).path.rstrip("/") == "/status":
            return None
        kind = draw.next()
        if kind is not None:
            log.debug("fault=%s request=%r", kind, redact(self.requestline))
        return kind

    def _method_not_allowed(self) -> None:
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"{self.command} is not allowed; use GET"}
        )

    def do_POST(self) -> None:
        self._method_not_allowed()

    def do_PUT(self) -> None:
        self._method_not_allowed()

    def do_DELETE(self) -> None:
        self._method_not_allowed()

    def _answer(self) -> tuple[HTTPStatus, object]:
        parts = urlsplit(self.path)
        segments = [unquote(segment) for segment in parts.path.split("/") if segment]
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        replay = self.server.replay
        if segments == ["status"]:
            status = replay.status()
            if self.server.faults is not None:
                status["faults"] = self.server.faults.status()
            return HTTPStatus.OK, status
        if segments == ["stock", "market", "batch"]:
            return HTTPStatus.OK, self._batch(query)
        if len(segments) == 3 and segments[0] == "stock" and segments[2] in ("quote", "bars"):
            symbol = replay.symbol(segments[1])
            if symbol is None:
                return HTTPStatus.NOT_FOUND, {"error": f"unknown symbol {segments[1]}"}
            clock = replay.clock_ms()
            if segments[2] == "quote":
                return HTTPStatus.OK, replay.quote(symbol, clock)
            return HTTPStatus.OK, replay.bars(symbol, _since(query), clock)
        return HTTPStatus.NOT_FOUND, {
            "error": f"no such endpoint {parts.path}; try /stock/AAPL/quote, "
            "/stock/AAPL/bars?since=0, /stock/market/batch?symbols=AAPL,MSFT&types=quote "
            "or /status"
        }

    def _batch(self, query: dict[str, str]) -> dict:
        requested = [name for name in query.get("symbols", "").split(",") if name.strip()]
        if not requested:
            raise BadRequestError("symbols is required, e.g. ?symbols=AAPL,MSFT&types=quote")
        if len(requested) > MAX_BATCH_SYMBOLS:
            raise BadRequestError(
                f"at most {MAX_BATCH_SYMBOLS} symbols per batch, not {len(requested)}"
            )
        types = [name.strip() for name in query.get("types", "quote").split(",") if name.strip()]
        unknown = [name for name in types if name not in BATCH_TYPES]
        if unknown or not types:
            raise BadRequestError(f"types must be quote, bars or both, not {query.get('types')!r}")
        since = _since(query)
        replay = self.server.replay
        clock = replay.clock_ms()  # one instant for the whole batch
        answer: dict[str, dict] = {}
        for name in requested:
            symbol = replay.symbol(name)
            if symbol is None or symbol in answer:
                continue
            entry: dict[str, object] = {}
            if "quote" in types:
                entry["quote"] = replay.quote(symbol, clock)
            if "bars" in types:
                entry["bars"] = replay.bars(symbol, since, clock)
            answer[symbol] = entry
        return answer

    def _send(
        self,
        status: HTTPStatus,
        document: object,
        *,
        headers: dict[str, str] | None = None,
        truncate: bool = False,
    ) -> None:
        body = json.dumps(document, allow_nan=False, separators=(",", ":")).encode()
        if truncate:
            # Half of it: a proper prefix of a JSON object or array is never valid JSON.
            body = body[: len(body) // 2]
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.access_log:
            log.info(
                "client=%s request=%r status=%s",
                self.client_address[0],
                redact(self.requestline),
                code,
            )

    def log_message(self, format: str, *args: object) -> None:
        # Protocol errors and timeouts; the stdlib prints them to stderr, we keep them quiet.
        log.debug("client=%s %s", self.client_address[0], redact(format % args))


def _since(query: dict[str, str]) -> int | None:
    text = query.get("since")
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise BadRequestError(
            f"since must be an integer number of milliseconds since the epoch, not {text!r}"
        ) from None


class ReplayServer:
    """The replay server, in-process: `start()` serves in a thread, `close()` stops it.

    `port=0` picks a free port (see `url`). The replay clock starts when the server starts;
    `now` is the monotonic clock it reads (injectable for tests). `faults`: which share of
    requests fails and how (default: none); `fault_counts()` tells how many were served.

        with ReplayServer(data, rate=0).start() as server:
            requests.get(f"{server.url}/stock/AAPL/quote")

        faults = Faults.parse("500=0.1,timeout=0.05", seed=7, hold=1.0)
        with ReplayServer(data, rate=0, faults=faults).start() as server:
            ...
    """

    def __init__(
        self,
        data: MarketData,
        host: str = "127.0.0.1",
        port: int = 0,
        rate: float = 1.0,
        *,
        access_log: bool = False,
        now: Callable[[], float] = time.monotonic,
        faults: Faults | None = None,
    ) -> None:
        self.data = data
        self.host = host
        self.rate = check_rate(rate)
        self.access_log = access_log
        self.faults = faults if faults is not None and faults.shares else None
        self._port = port
        self._now = now
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def replay(self) -> Replay:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return self._httpd.replay

    def fault_counts(self) -> dict[str, int]:
        """How many faults of each kind were served since the server started ({}: faults off)."""
        if self._httpd is None or self._httpd.faults is None:
            return {}
        return self._httpd.faults.status()["served"]

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd is not None else self._port

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    def bind(self) -> ReplayServer:
        """Listens on the port and starts the replay clock, without serving yet."""
        if self._httpd is None:
            replay = Replay(self.data, self.rate, self._now)
            draw = FaultDraw(self.faults) if self.faults is not None else None
            try:
                self._httpd = _HttpServer((self.host, self._port), replay, self.access_log, draw)
            except OSError as error:
                raise ConfigError(
                    f"the market server cannot listen on {self.host}:{self._port} "
                    f"({error.strerror or error}); choose another port"
                ) from None
        return self

    def start(self) -> ReplayServer:
        """Serves in a background thread; returns at once."""
        self.bind()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.2},
                name="market-replay",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serves in the calling thread until `close()` (from another thread) or Ctrl-C."""
        self.bind()
        self._httpd.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        httpd.closing.set()
        if self._thread is not None:
            httpd.shutdown()
            self._thread.join()
            self._thread = None
        httpd.server_close()
        with httpd.connections_lock:
            connections = list(httpd.connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd = None

    def __enter__(self) -> ReplayServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def serve(
    data: MarketData,
    host: str = "127.0.0.1",
    port: int = 8080,
    rate: float = 1.0,
    *,
    access_log: bool = False,
    faults: Faults | None = None,
) -> None:
    """Serves the replay of `data` until interrupted (Ctrl-C); what `kafkatrade market` runs."""
    server = ReplayServer(data, host, port, rate, access_log=access_log, faults=faults).bind()
    status = server.replay.status()
    log.info(
        "market replay serving url=%s symbols=%d bars=%d steps=%d rate=%g data=%r",
        server.url,
        status["symbols"],
        status["bars"],
        status["steps"],
        server.rate,
        data.source,
    )
    if server.faults is not None:
        log.info(
            "market replay faults=%s seed=%s retry_after=%ds hold=%gs",
            server.faults.spec(),
            server.faults.seed,
            server.faults.retry_after,
            server.faults.hold,
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("market replay stopped")
    finally:
        server.close()
