"""The IEX-style client against a replay server that faults, and against garbage answers.

Every fault and every piece of garbage ends in a one-line ProviderError (never another
exception), counted once in kafkatrade_provider_requests_total with the status it ended in.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import REGISTRY

from kafkatrade.market import Faults, ReplayServer
from kafkatrade.providers import ProviderError
from kafkatrade.providers.iex import IexProvider

STATUSES = ("200", "500", "429", "503", "timeout", "invalid_answer", "connection_error")


def requests_by_status() -> dict[str, float]:
    """The provider requests counted so far, per status label."""
    return {
        status: REGISTRY.get_sample_value(
            "kafkatrade_provider_requests_total", {"provider": "iex", "status": status}
        )
        or 0.0
        for status in STATUSES
    }


def counted_since(before: dict[str, float]) -> dict[str, float]:
    """The requests counted since `before`, only the statuses that moved."""
    now = requests_by_status()
    return {
        status: now[status] - before[status] for status in STATUSES if now[status] != before[status]
    }


def faulting(market, spec: str, **options) -> ReplayServer:
    return ReplayServer(market, rate=0, faults=Faults.parse(spec, seed=1, **options)).start()


def test_truncated_json_is_a_provider_error_counted_as_invalid(market):
    with faulting(market, "truncated=1") as server, IexProvider(server.url) as client:
        before = requests_by_status()
        with pytest.raises(ProviderError, match=r"batch: the answer is not JSON \(") as caught:
            client.bars_since({"AAA": 0, "BRK.B": 0})
        assert counted_since(before) == {"invalid_answer": 1}
    assert caught.value.retry_after is None
    assert "\n" not in str(caught.value)


def test_a_held_request_is_a_provider_error_after_the_client_timeout(market):
    hold = 5.0
    with faulting(market, "timeout=1", hold=hold) as server:
        client = IexProvider(server.url, timeout=0.3)
        before = requests_by_status()
        started = time.monotonic()
        with pytest.raises(ProviderError) as caught:
            client.quotes(["AAA"])
        elapsed = time.monotonic() - started
        assert counted_since(before) == {"timeout": 1}
        assert str(caught.value) == f"GET {server.url}/stock/market/batch: no answer within 0.3 s"
    assert elapsed >= 0.3
    assert elapsed < hold  # the client gave up; it did not wait for the server to let go


def test_a_500_is_a_provider_error_without_retry_after(market):
    with faulting(market, "500=1") as server, IexProvider(server.url) as client:
        before = requests_by_status()
        with pytest.raises(ProviderError, match=r"HTTP 500: injected fault: 500$") as caught:
            client.quotes(["AAA"])
        assert counted_since(before) == {"500": 1}
    assert caught.value.retry_after is None


def test_a_429_carries_its_retry_after(market):
    with faulting(market, "429=1", retry_after=3) as server, IexProvider(server.url) as client:
        before = requests_by_status()
        with pytest.raises(ProviderError, match=r"HTTP 429: .*\(retry after 3 s\)$") as caught:
            client.bars_since({"AAA": 0})
        assert counted_since(before) == {"429": 1}
    assert caught.value.retry_after == 3.0


def test_a_client_that_retries_through_every_fault_kind_gets_every_bar(market, day_ms):
    spec = "500=0.15,429=0.15,timeout=0.15,truncated=0.15"
    with faulting(market, spec, retry_after=0, hold=1.0) as server:
        client = IexProvider(server.url, timeout=0.3)
        cursors = {"AAA": day_ms[0] - 1, "^GSPC": day_ms[0] - 1, "BRK.B": day_ms[0] - 1}
        got: dict[str, list[int]] = {symbol: [] for symbol in cursors}
        failures = 0
        for _ in range(100):
            try:
                found = client.bars_since(cursors)
            except ProviderError:
                failures += 1
                continue
            if not any(found.values()):
                break
            for symbol, quotes in found.items():
                if quotes:  # take one bar per symbol per call: more calls, more faults
                    got[symbol].append(round(quotes[0].timestamp.timestamp() * 1000))
                    cursors[symbol] = got[symbol][-1]
        assert failures == sum(server.fault_counts().values()) > 0
    assert got == {"AAA": day_ms[:4], "^GSPC": [day_ms[1], day_ms[3]], "BRK.B": day_ms[2:5:2]}


@pytest.fixture
def answering():
    """A server answering every GET with `answer`: status, headers, body, and `drip` seconds
    between the body's bytes (a server that trickles)."""
    answer: dict = {"status": 200, "headers": {}, "body": b"{}", "drip": 0.0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = answer["body"]
            self.send_response(answer["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(answer.get("length", len(body))))
            for name, value in answer["headers"].items():
                self.send_header(name, value)
            self.end_headers()
            try:
                if answer["drip"]:
                    for byte in body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(answer["drip"])
                else:
                    self.wfile.write(body)
            except OSError:
                pass  # the client gave up

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", answer
    httpd.shutdown()
    httpd.server_close()


BAR = '{"latestPrice": 10, "latestUpdate": 1704067200000, "latestVolume": 5}'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html><body>Bad gateway</body></html>", "the answer is not JSON"),
        (b'{"AAA": {"bars": [' + BAR.encode(), "the answer is not JSON"),  # cut short
        (b"[" * 100_000 + b"]" * 100_000, "the answer is not JSON (RecursionError)"),
        (b'{"AAA": {"bars": "\xff\xfe"}}', "the answer is not JSON"),  # not UTF-8
        (b'{"AAA": []}', "the entry of AAA is not a JSON object"),
        (b'{"AAA": {"bars": {"0": ' + BAR.encode() + b"}}}", "bars of AAA are not a list"),
        (b'{"AAA": {"bars": [[10, 1704067200000]]}}', "quote of AAA is not a JSON object"),
        (
            b'{"AAA": {"bars": [{"latestPrice": NaN, "latestUpdate": 1704067200000}]}}',
            "bad quote of AAA: latestPrice must be a finite number, not NaN",
        ),
        (
            b'{"AAA": {"bars": [{"latestPrice": 10, "latestUpdate": NaN}]}}',
            "bad quote of AAA",
        ),
        (
            b'{"AAA": {"bars": [{"latestPrice": 10, "latestUpdate": 1e300}]}}',
            "bad quote of AAA",
        ),
        (
            b'{"AAA": {"bars": [{"latestPrice": 10, "latestUpdate": 1, "latestVolume": "5"}]}}',
            "bad quote of AAA: latestVolume must be a finite number",
        ),
        (
            b'{"AAA": {"bars": [{"latestPrice": 10, "latestUpdate": 1, "low": 0}]}}',
            "bad quote of AAA: low must be positive, not 0",
        ),
        (b'"AAA"', "the answer is not a JSON object"),
    ],
)
def test_garbage_is_a_provider_error_counted_as_invalid(answering, body, expected):
    url, answer = answering
    answer["body"] = body
    before = requests_by_status()
    with pytest.raises(ProviderError) as caught:
        IexProvider(url).bars_since({"AAA": 0})
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)
    assert counted_since(before) == {"invalid_answer": 1}


def test_a_symbol_with_a_bad_bar_waits_and_the_others_get_theirs(answering, caplog):
    url, answer = answering
    bad = '{"latestPrice": -3, "latestUpdate": 1704067260000}'
    answer["body"] = f'{{"AAA": {{"bars": [{BAR}]}}, "BBB": {{"bars": [{BAR}, {bad}]}}}}'.encode()
    before = requests_by_status()
    with caplog.at_level("WARNING", logger="kafkatrade.providers.iex"):
        bars = IexProvider(url).bars_since({"AAA": 0, "BBB": 0})
    assert [quote.price for quote in bars["AAA"]] == [10.0]
    assert bars["BBB"] == []  # the whole symbol waits: its good bar comes again next poll
    assert "bad quote of BBB: latestPrice must be positive" in caplog.text
    assert counted_since(before) == {"200": 1}


def test_a_good_answer_is_counted_as_200(answering):
    url, answer = answering
    answer["body"] = ('{"AAA": {"bars": [' + BAR + "]}}").encode()
    before = requests_by_status()
    bars = IexProvider(url).bars_since({"AAA": 0})
    assert [quote.price for quote in bars["AAA"]] == [10.0]
    assert counted_since(before) == {"200": 1}


def test_a_trickled_answer_is_a_timeout_not_a_hang(answering):
    url, answer = answering
    answer.update(body=b'{"AAA": {"bars": []}}' + b" " * 200, drip=0.05)  # ~11 s in all
    before = requests_by_status()
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"the answer did not arrive within 0\.5 s"):
        IexProvider(url, timeout=0.5).bars_since({"AAA": 0})
    assert time.monotonic() - started >= 0.5
    assert counted_since(before) == {"timeout": 1}


def test_an_answer_cut_off_by_the_connection_is_a_provider_error(answering):
    url, answer = answering
    answer.update(body=b'{"AAA": {"bars": []}}', length=1000)  # promises more, then closes
    before = requests_by_status()
    with pytest.raises(ProviderError, match="the answer was cut off"):
        IexProvider(url, timeout=2).bars_since({"AAA": 0})
    assert counted_since(before) == {"connection_error": 1}


@pytest.mark.parametrize(
    ("status", "header", "expected"),
    [
        (429, "120", 120.0),
        (503, "0", 0.0),
        (429, "soon", None),
        (429, None, None),
        (500, "5", None),  # only 429 and 503 ask to wait
    ],
)
def test_retry_after_in_seconds(answering, status, header, expected):
    url, answer = answering
    answer.update(status=status, body=b'{"error": "slow down"}')
    answer["headers"] = {} if header is None else {"Retry-After": header}
    with pytest.raises(ProviderError) as caught:
        IexProvider(url).quotes(["AAA"])
    assert caught.value.retry_after == expected


def test_retry_after_as_an_http_date(answering):
    url, answer = answering
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
    answer.update(status=429, body=b"{}", headers={"Retry-After": format_datetime(later, True)})
    with pytest.raises(ProviderError) as caught:
        IexProvider(url).quotes(["AAA"])
    assert 25 <= caught.value.retry_after <= 30


def test_a_refused_connection_is_counted():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    before = requests_by_status()
    with pytest.raises(ProviderError, match="cannot connect"):
        IexProvider(f"http://127.0.0.1:{port}").quotes(["AAA"])
    assert counted_since(before) == {"connection_error": 1}
