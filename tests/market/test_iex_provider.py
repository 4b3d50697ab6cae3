"""The IEX-style client against the real replay server, and against servers that misbehave."""

from __future__ import annotations

import json
import socket
import threading
import traceback
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from kafkatrade.market import ReplayServer
from kafkatrade.marketdata import Bar, MarketData, load
from kafkatrade.models import Quote
from kafkatrade.providers import Provider, ProviderError
from kafkatrade.providers.iex import IexProvider

API_KEY = "sk_live/SECRET+key 42"  # with characters that URL encoding changes


def assert_secret_kept(error: BaseException) -> None:
    # The exception of requests, whose message holds the URL and its token, is not chained.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    text = "".join(traceback.format_exception_only(error))
    for form in (API_KEY, requests.utils.quote(API_KEY, safe=""), "SECRET"):
        assert form not in text


def test_the_client_is_a_provider():
    client: Provider = IexProvider("http://127.0.0.1:1")
    assert client.has_bars and client.name == "iex"
    assert API_KEY not in repr(IexProvider("http://127.0.0.1:1", api_key=API_KEY))


def test_quotes_of_the_finished_replay(finished_server, days):
    with IexProvider(finished_server.url, api_key=API_KEY) as client:
        quotes = client.quotes(["AAA", "^GSPC", "BRK.B", "XYZ"])
    assert quotes == {
        "AAA": Quote("AAA", 12.5, 3000.0, days[3], "iex", 11.0, 13.0, 11.0, 12.5),
        "^GSPC": Quote("^GSPC", 4750.5, 0.0, days[3], "iex", close=4750.5),
        "BRK.B": Quote("BRK.B", 361.0, 12.5, days[4], "iex", close=361.0),
        "XYZ": None,  # unknown to the server
    }
    assert quotes["AAA"].timestamp.tzinfo == UTC


def test_a_symbol_without_a_bar_yet_has_no_quote(stepped_server, days):
    quotes = IexProvider(stepped_server.url, source="replay").quotes(["AAA", "^GSPC"])
    assert quotes == {
        "AAA": Quote("AAA", 10.5, 1000.0, days[0], "replay", 10.0, 11.0, 9.0, 10.5),
        "^GSPC": None,
    }


def test_bars_since_follow_each_symbols_own_cursor(finished_server, day_ms):
    with IexProvider(finished_server.url) as client:
        bars = client.bars_since({"AAA": day_ms[1], "^GSPC": 0, "BRK.B": day_ms[4], "XYZ": 0})
    assert {symbol: [quote.price for quote in quotes] for symbol, quotes in bars.items()} == {
        "AAA": [11.0, 12.5],  # days 3 and 4
        "^GSPC": [4700.0, 4750.5],
        "BRK.B": [],  # nothing after its cursor
        "XYZ": [],
    }
    assert bars["AAA"][0] == Quote(
        "AAA", 11.0, 1500.0, datetime(2024, 1, 3, tzinfo=UTC), "iex", 11.5, 11.5, 10.5, 11.0
    )
    assert IexProvider(finished_server.url).bars_since({}) == {}


def test_bars_since_as_the_clock_moves_miss_nothing(stepped_server, fake_time, day_ms):
    client = IexProvider(stepped_server.url)
    cursors = {"AAA": -1, "^GSPC": -1, "BRK.B": -1}
    seen: dict[str, list[int]] = {symbol: [] for symbol in cursors}
    for _ in range(6):
        for symbol, quotes in client.bars_since(cursors).items():
            for quote in quotes:
                ms = round(quote.timestamp.timestamp() * 1000)
                seen[symbol].append(ms)
                cursors[symbol] = ms
        fake_time.seconds += 0.5
    assert seen == {
        "AAA": day_ms[:4],
        "^GSPC": [day_ms[1], day_ms[3]],
        "BRK.B": [day_ms[2], day_ms[4]],
    }


class CountingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.batch_sizes: list[int] = []

    def get(self, url, **kwargs):
        self.batch_sizes.append(len(kwargs["params"]["symbols"].split(",")))
        return super().get(url, **kwargs)


def test_symbols_are_asked_for_100_at_a_time():
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    symbols = [f"S{number:03d}" for number in range(250)]
    data = MarketData(
        {symbol: [Bar(moment, None, None, None, 1.0 + i, 0.0)] for i, symbol in enumerate(symbols)}
    )
    with ReplayServer(data, rate=0).start() as server, CountingSession() as session:
        client = IexProvider(server.url, session=session)
        quotes = client.quotes(symbols)  # the server refuses more than 100 in a batch
        assert [quotes[symbol].price for symbol in symbols] == [1.0 + i for i in range(250)]
        bars = client.bars_since(dict.fromkeys(symbols, 0))
        assert sum(len(quotes) for quotes in bars.values()) == 250
    assert session.batch_sizes == [100, 100, 50, 100, 100, 50]


def test_a_refused_connection_is_a_provider_error_without_the_key():
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ProviderError) as caught:
        IexProvider(f"http://127.0.0.1:{port}", api_key=API_KEY).quotes(["AAA"])
    message = str(caught.value)
    assert message.startswith(f"GET http://127.0.0.1:{port}/stock/market/batch: cannot connect")
    assert "\n" not in message
    assert_secret_kept(caught.value)


def test_a_server_that_never_answers_is_a_timeout():
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(ProviderError) as caught:
            IexProvider(url, api_key=API_KEY, timeout=0.3).bars_since({"AAA": 0})
    assert str(caught.value) == f"GET {url}/stock/market/batch: no answer within 0.3 s"
    assert_secret_kept(caught.value)


@pytest.fixture
def misbehaving_server():
    """A server answering every GET with the status and body in `answer`, and echoing the
    request line in the body when asked (as some real services do)."""
    answer = {"status": 200, "body": b"{}", "content_type": "application/json"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = answer["body"]
            if answer.get("echo"):
                body = json.dumps({"error": f"bad request {self.requestline}"}).encode()
            self.send_response(answer["status"])
            self.send_header("Content-Type", answer["content_type"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", answer
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"body": b"<html>oops</html>", "content_type": "text/html"}, "the answer is not JSON"),
        ({"body": b"[1, 2]"}, "the answer is not a JSON object"),
        ({"body": b'{"AAA": 5}'}, "the entry of AAA is not a JSON object"),
        (
            {"body": b'{"AAA": {"quote": {"latestPrice": "12", "latestUpdate": 1}}}'},
            "bad quote of AAA: latestPrice must be a finite number",
        ),
        (
            {"body": b'{"AAA": {"quote": {"latestPrice": 12, "latestUpdate": "today"}}}'},
            "bad quote of AAA: latestUpdate must be epoch milliseconds",
        ),
        (
            {"body": b'{"AAA": {"quote": {"latestPrice": -1, "latestUpdate": 1}}}'},
            "bad quote of AAA: latestPrice must be positive",
        ),
        ({"status": 500, "body": b'{"error": "internal error"}'}, "HTTP 500: internal error"),
        ({"status": 403, "echo": True}, "HTTP 403 (check the API key): bad request GET"),
        ({"status": 402, "body": b"Payment Required"}, "HTTP 402: Payment Required"),
    ],
)
def test_errors_and_garbage_are_one_line_provider_errors(misbehaving_server, answer, expected):
    url, behaviour = misbehaving_server
    behaviour.update(answer)
    with pytest.raises(ProviderError) as caught:
        IexProvider(url, api_key=API_KEY).quotes(["AAA"])
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert_secret_kept(caught.value)


def test_an_echoed_token_is_masked(misbehaving_server):
    url, behaviour = misbehaving_server
    behaviour.update(status=401, echo=True)
    with pytest.raises(ProviderError) as caught:
        IexProvider(url, api_key=API_KEY).bars_since({"AAA": 0})
    assert "token=***" in str(caught.value)
    assert_secret_kept(caught.value)


def test_a_wrong_base_url_is_an_http_404(finished_server):
    with pytest.raises(
        ProviderError, match=r"/nope/stock/market/batch: HTTP 404: no such endpoint"
    ):
        IexProvider(finished_server.url + "/nope/").quotes(["AAA"])


def test_the_default_data_end_to_end():
    data = load()
    with ReplayServer(data, rate=0).start() as server, IexProvider(server.url) as client:
        quotes = client.quotes(data.symbols)
        bars = client.bars_since(dict.fromkeys(data.symbols, -(2**53)))
    assert {symbol: quote.price for symbol, quote in quotes.items()} == {
        symbol: series[-1].close for symbol, series in data.items()
    }
    assert {symbol: len(quotes) for symbol, quotes in bars.items()} == {
        symbol: len(series) for symbol, series in data.items()
    }
    assert bars["GOOG"][0] == data["GOOG"][0].to_quote("GOOG", source="iex")


def test_credentials_in_the_base_url_stay_out_of_errors():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ProviderError) as caught:
        IexProvider(f"http://user:SECRET@127.0.0.1:{port}/stable").quotes(["AAA"])
    assert str(caught.value).startswith(f"GET http://127.0.0.1:{port}/stable/stock/market/batch")
    assert_secret_kept(caught.value)
