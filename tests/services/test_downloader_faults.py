"""The downloader against a provider that fails: it waits as asked, retries, and loses nothing.

The end-to-end test runs a real downloader process on the real broker against the replay
server faulting 20 % of its requests, and compares the Quotes topic with the replay's data.
"""

from __future__ import annotations

import time
from collections import defaultdict

import pytest

from kafkatrade import symbols as catalogue
from kafkatrade.kafka.history import read_history
from kafkatrade.market import Faults, ReplayServer
from kafkatrade.marketdata import load
from kafkatrade.models import Quote
from kafkatrade.providers.iex import IexProvider
from kafkatrade.services.downloader import Poller
from kafkatrade.services.runtime import Backoff
from tests.conftest import free_port
from tests.market.conftest import FAULT_KINDS, MS, expected_faults, tiny_market
from tests.support import group_partitions, start_service, wait_for


def test_backoff_waits_at_least_the_retry_after_up_to_its_max_wait():
    backoff = Backoff(base=0.01, cap=0.01, max_wait=5.0)
    assert all(backoff.next_delay(at_least=2.0) == 2.0 for _ in range(20))
    assert backoff.next_delay(at_least=3600.0) == 5.0  # a provider asking for an hour
    assert 0 <= backoff.next_delay(at_least=None) <= 0.01
    backoff.attempt = 5000  # hours of failures in a row: still a number, still capped
    assert 0 <= backoff.next_delay() <= 0.01


def test_the_poller_honours_retry_after_then_gets_every_quote():
    day_ms = MS
    retry_after = 2
    shares = {"429": 0.5}
    # A seed whose first request gets the 429 and whose second does not.
    seed = next(s for s in range(1000) if expected_faults(shares, s, 2) == ["429", None])
    faults = Faults.parse("429=0.5", seed=seed, retry_after=retry_after)
    with ReplayServer(tiny_market(), rate=0, faults=faults).start() as server:
        poller = Poller(IexProvider(server.url, timeout=1), poll_interval=0.01)
        cursors = {"AAA": 0, "^GSPC": 0, "BRK.B": 0}
        began = time.monotonic()
        assert poller.poll(cursors) is None  # the 429
        assert not poller.due()
        while not poller.due():
            time.sleep(0.01)
        quotes = poller.poll(cursors)
        waited = time.monotonic() - began
        assert server.fault_counts()["429"] == 1
    assert waited >= retry_after
    assert quotes is not None
    assert [(q.symbol, round(q.timestamp.timestamp() * 1000)) for q in quotes] == [
        ("AAA", ms) for ms in day_ms[:4]
    ] + [("BRK.B", day_ms[2]), ("BRK.B", day_ms[4]), ("^GSPC", day_ms[1]), ("^GSPC", day_ms[3])]
    assert poller.backoff.attempt == 0  # a good answer resets the backoff


def quotes_by_symbol(settings) -> dict[str, list[Quote]]:
    """Each symbol's quotes on the Quotes topic, in offset order (a symbol is one partition)."""
    found: dict[str, list[Quote]] = defaultdict(list)
    for record in read_history(settings, settings.quotes_topic):
        quote = Quote.from_json(record.value)
        assert record.key == quote.symbol.encode()
        found[quote.symbol].append(quote)
    return dict(found)


@pytest.mark.stack
def test_a_downloader_against_a_faulting_provider_publishes_every_quote_once_in_order(
    isolated, tmp_path
):
    data = load()
    expected = {
        symbol: [bar.to_quote(symbol, source="iex") for bar in bars]
        for symbol, bars in data.items()
    }
    total = sum(len(quotes) for quotes in expected.values())
    shares = dict.fromkeys(FAULT_KINDS, 0.05)  # 20 % of the requests fail, one kind in four each
    seed = 49  # its first 9 requests hold every kind, checked here:
    assert set(expected_faults(shares, seed, 9)) == {*FAULT_KINDS, None}
    faults = Faults.parse("500=0.05,429=0.05,timeout=0.05,truncated=0.05", seed=seed, hold=1.5)
    port = free_port()
    # The client gives up on a held request after 0.5 s; the server holds it 1.5 s.
    settings = isolated.replace(provider_url=f"http://127.0.0.1:{port}", http_timeout=0.5)
    downloader = start_service(settings, tmp_path, "downloader", "downloader", "--instance", "1")
    try:
        wait_for(
            lambda: (
                group_partitions(settings, settings.downloader_group) == {"downloader-1": {0, 1}}
            ),
            60,
            "the downloader owns both Stocks partitions",
        )
        # The replay starts now and lasts about 6 s: the downloader polls it some 20 times.
        rate = len(data.timeline()) / 6
        with ReplayServer(data, port=port, rate=rate, faults=faults).start() as market:
            catalogue.publish(settings, list(data))
            wait_for(
                lambda: sum(map(len, quotes_by_symbol(settings).values())) >= total,
                90,
                f"{total} quotes on {settings.quotes_topic}",
                interval=1,
            )
            served = market.fault_counts()
            time.sleep(2)  # more polls, which must publish nothing new
        assert downloader.poll() is None, "the downloader died"
    finally:
        downloader.terminate()
        downloader.wait(15)
    assert all(served[kind] >= 1 for kind in FAULT_KINDS), served
    published = quotes_by_symbol(settings)
    assert published.keys() == expected.keys()
    for symbol, quotes in expected.items():
        assert published[symbol] == quotes, symbol  # each once, in order, equal
    log = (tmp_path / "downloader.log").read_text()
    assert "Traceback" not in log
    assert log.count("provider error=") >= sum(served.values())
