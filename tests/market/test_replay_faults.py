"""Fault injection of the replay server over real HTTP: each kind at its share, reproducibly.

The expected sequence of faults is computed here from the documented rule (one draw of
`random.Random(seed).random()` per request, kinds taking consecutive intervals of [0, 1) in
the order 500, 429, timeout, truncated), not by asking the server's own code.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading

import pytest
import requests

from kafkatrade.config import ConfigError
from kafkatrade.market import Faults, ReplayServer
from tests.conftest import free_port
from tests.market.conftest import FAULT_KINDS, expected_faults
from tests.support import kafkatrade, wait_for

CLIENT_TIMEOUT = 0.3  # seconds; the servers below hold a `timeout` request for longer
HOLD = 2.0


def binomial_bound(count: int, share: float) -> tuple[float, float]:
    """Mean +- 5 standard deviations of Binomial(count, share): a seed-free sanity bound."""
    mean = count * share
    spread = 5 * math.sqrt(count * share * (1 - share))
    return mean - spread, mean + spread


def observed_fault(session: requests.Session, url: str, normal: bytes) -> str | None:
    """Which fault one GET of `url` got, checked against what that fault must look like."""
    try:
        response = session.get(url, timeout=CLIENT_TIMEOUT)
    except requests.Timeout:
        return "timeout"
    if response.status_code == 500:
        assert response.json() == {"error": "injected fault: 500"}
        return "500"
    if response.status_code == 429:
        assert response.headers["Retry-After"] == "1"
        assert response.json() == {"error": "injected fault: too many requests"}
        return "429"
    assert response.status_code == 200
    if response.content == normal:
        return None
    # Cut in the middle: a proper, non-empty prefix of the normal answer, and not JSON.
    assert 0 < len(response.content) < len(normal)
    assert normal.startswith(response.content)
    with pytest.raises(ValueError):
        json.loads(response.content)
    return "truncated"


@pytest.fixture(scope="module")
def normal_answers(market) -> dict[str, bytes]:
    """The bodies of the fault-free server, to compare faulted answers with."""
    with ReplayServer(market, rate=0).start() as server:
        return {
            path: requests.get(server.url + path, timeout=5).content
            for path in ("/stock/AAA/quote", "/stock/market/batch?symbols=AAA,BRK.B&types=bars")
        }


@pytest.mark.parametrize(
    ("spec", "seed", "count"),
    [
        ("500=0.3", 11, 200),
        ("429=0.25", 12, 200),
        ("truncated=0.4", 13, 200),
        ("timeout=0.2", 14, 40),  # each costs the client its timeout: fewer requests
        ("500=0.1,429=0.1,timeout=0.05,truncated=0.15", 15, 200),
    ],
)
def test_each_fault_is_served_at_its_share_in_the_seeded_sequence(
    market, normal_answers, spec, seed, count
):
    faults = Faults.parse(spec, seed=seed, hold=HOLD)
    shares = dict(item.split("=") for item in spec.split(","))
    shares = {kind: float(share) for kind, share in shares.items()}
    path = "/stock/market/batch?symbols=AAA,BRK.B&types=bars"
    with ReplayServer(market, rate=0, faults=faults).start() as server, requests.Session() as s:
        seen = [observed_fault(s, server.url + path, normal_answers[path]) for _ in range(count)]
        counts = server.fault_counts()
        status = requests.get(server.url + "/status", timeout=5).json()
    assert seen == expected_faults(shares, seed, count)
    for kind, share in shares.items():
        low, high = binomial_bound(count, share)
        assert low <= seen.count(kind) <= high, (kind, seen.count(kind))
    served = {kind: seen.count(kind) for kind in FAULT_KINDS}
    assert counts == served
    assert status["faults"] == {
        "spec": spec,
        "seed": seed,
        "requests": count,
        "served": served,
    }


def test_status_is_never_faulted_and_other_endpoints_always_are(market):
    faults = Faults.parse("500=1", seed=1)
    with ReplayServer(market, rate=0, faults=faults).start() as server:
        for _ in range(50):
            assert requests.get(server.url + "/status", timeout=5).status_code == 200
        for path in ("/stock/AAA/quote", "/stock/AAA/bars?since=0", "/nope"):
            assert requests.get(server.url + path, timeout=5).status_code == 500
        assert server.fault_counts() == {"500": 3, "429": 0, "timeout": 0, "truncated": 0}


def test_a_held_request_does_not_hold_the_others(market, day_ms):
    faults = Faults.parse("timeout=1", seed=1, hold=30)
    with ReplayServer(market, rate=0, faults=faults).start() as server:
        outcome: list[BaseException] = []

        def held() -> None:
            try:
                requests.get(server.url + "/stock/AAA/quote", timeout=60)
            except requests.RequestException as error:
                outcome.append(error)

        thread = threading.Thread(target=held, daemon=True)
        thread.start()
        wait_for(lambda: server.fault_counts()["timeout"] == 1, 5, "the request is held")
        # Held for 30 s, yet the server answers at once meanwhile.
        status = requests.get(server.url + "/status", timeout=2).json()
        assert status["faults"]["served"]["timeout"] == 1
        assert status["clock"] == "2024-01-05T00:00:00Z"
    # close() ends the held request without an answer, well before its 30 s.
    thread.join(10)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], requests.ConnectionError)


def test_faults_lose_nothing_a_client_that_retries_gets_every_bar(market, day_ms):
    """A faulted request moves no cursor: retried, each symbol's bars come whole, in order."""
    faults = Faults.parse("500=0.2,429=0.2,timeout=0.1,truncated=0.2", seed=3, hold=HOLD)
    with ReplayServer(market, rate=0, faults=faults).start() as server, requests.Session() as s:
        got: dict[str, list[int]] = {}
        for symbol in ("AAA", "^GSPC", "BRK.B"):
            cursor = -1
            got[symbol] = []
            for _ in range(200):
                try:
                    response = s.get(
                        f"{server.url}/stock/{requests.utils.quote(symbol, safe='')}/bars",
                        params={"since": cursor},
                        timeout=CLIENT_TIMEOUT,
                    )
                    bars = response.json() if response.status_code == 200 else None
                except (requests.RequestException, ValueError):
                    bars = None
                if bars is None:
                    continue  # a fault: ask again from the same cursor
                if not bars:
                    break
                got[symbol].append(bars[0]["latestUpdate"])
                cursor = bars[0]["latestUpdate"]  # one bar a step: many requests, many faults
        assert sum(server.fault_counts().values()) > 0
    assert got == {
        "AAA": day_ms[:4],
        "^GSPC": [day_ms[1], day_ms[3]],
        "BRK.B": [day_ms[2], day_ms[4]],
    }


def test_without_faults_status_has_no_faults_entry(finished_server):
    assert "faults" not in requests.get(finished_server.url + "/status", timeout=5).json()
    assert finished_server.fault_counts() == {}


def test_a_spec_reads_in_any_order_and_writes_back_in_the_draw_order():
    faults = Faults.parse(" truncated=0.1, 500=0.25 ,timeout=0", seed=9)
    assert faults.shares == {"500": 0.25, "timeout": 0.0, "truncated": 0.1}
    assert faults.spec() == "500=0.25,timeout=0,truncated=0.1"
    assert faults.total == pytest.approx(0.35)
    assert Faults.parse(faults.spec()).shares == faults.shares
    assert Faults.parse("").shares == {} and Faults.parse("none").spec() == "none"
    assert Faults.parse("500=1", seed=4, retry_after=3, hold=0.5).arguments() == [
        "--faults",
        "500=1",
        "--fault-retry-after",
        "3",
        "--fault-hold",
        "0.5",
        "--fault-seed",
        "4",
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("500=0.6,429=0.5", "the fault shares add up to 1.1, more than 1"),
        ("503=0.1", "unknown fault '503'"),
        ("500", "bad fault '500'"),
        ("500=0.1,", "bad fault ''"),
        ("=0.1", "bad fault '=0.1'"),
        ("500=lots", "the share of fault 500 must be a number from 0 to 1, not 'lots'"),
        ("429=-0.1", "the share of fault 429 must be a number from 0 to 1, not -0.1"),
        ("timeout=nan", "the share of fault timeout must be a number from 0 to 1, not nan"),
        ("500=0.1,500=0.2", "fault 500 is given twice"),
    ],
)
def test_a_bad_spec_is_a_config_error(spec, message):
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        Faults.parse(spec)


def test_bad_retry_after_and_hold_are_config_errors():
    with pytest.raises(ConfigError, match="Retry-After of 429 faults must be 0 or more"):
        Faults.parse("429=0.1", retry_after=-1)
    with pytest.raises(ConfigError, match="Retry-After of 429 faults must be whole seconds"):
        Faults.parse("429=0.1", retry_after=1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="the timeout hold must be 0 or more seconds"):
        Faults.parse("timeout=0.1", hold=math.inf)


def test_the_market_command_reports_a_bad_spec_in_one_line():
    finished = kafkatrade("market", "--faults", "500=0.2,oops=0.1", "--rate", "0", timeout=60)
    assert finished.returncode == 2
    assert finished.stderr == (
        "kafkatrade: error: unknown fault 'oops' in '500=0.2,oops=0.1'; "
        "the faults are 500, 429, timeout, truncated\n"
    )


def test_the_market_command_serves_faults():
    port = free_port()
    command = [
        "market",
        "--rate=0",
        f"--market-port={port}",
        "--faults=429=1",
        "--fault-seed=2",
        "--fault-retry-after=7",
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "kafkatrade", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def status() -> dict | None:
            try:
                return requests.get(url + "/status", timeout=2).json()
            except requests.RequestException:
                return None

        assert wait_for(status, 60, "the market server answers")["faults"]["spec"] == "429=1"
        response = requests.get(url + "/stock/GOOG/quote", timeout=5)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "7"
        assert status()["faults"]["served"]["429"] == 1
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert "with faults 429=1" in output
