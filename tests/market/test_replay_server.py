"""The market replay server over real HTTP: IEX-style quotes, bars, batch and status."""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime

import pytest
import requests

from kafkatrade.config import ConfigError
from kafkatrade.market import ReplayClock, ReplayServer
from kafkatrade.marketdata import Bar, MarketData


def get(server: ReplayServer, path: str, **params) -> requests.Response:
    return requests.get(server.url + path, params=params or None, timeout=5)


# AAA's bars on days 1-4 of the tiny market: open, high, low, close, volume.
AAA = [
    (10.0, 11.0, 9.0, 10.5, 1000),
    (10.5, 12.0, 10.0, 11.5, 2000),
    (11.5, 11.5, 10.5, 11.0, 1500),
    (11.0, 13.0, 11.0, 12.5, 3000),
]


def aaa_quote(day_ms: list[int], day: int) -> dict:
    """AAA's quote of day `day` (0-based), written by hand from AAA above."""
    open_, high, low, close, volume = AAA[day]
    return {
        "symbol": "AAA",
        "latestPrice": close,
        "latestVolume": volume,
        "latestUpdate": day_ms[day],
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
    }


def close_quote(symbol: str, ms: int, close: float, volume: float) -> dict:
    return {
        "symbol": symbol,
        "latestPrice": close,
        "latestVolume": volume,
        "latestUpdate": ms,
        "open": None,
        "high": None,
        "low": None,
        "close": close,
    }


def test_status_at_rate_0_has_the_clock_at_the_end(finished_server):
    response = get(finished_server, "/status")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {
        "clock": "2024-01-05T00:00:00Z",
        "step": 5,
        "steps": 5,
        "finished": True,
        "symbols": 3,
        "bars": 8,
        "rate": 0.0,
    }


def test_quote_is_the_latest_bar(finished_server, day_ms):
    response = get(finished_server, "/stock/AAA/quote")
    assert response.status_code == 200
    assert response.json() == aaa_quote(day_ms, 3)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/stock/%5EGSPC/quote", ("^GSPC", 3, 4750.5, 0)),
        ("/stock/^GSPC/quote", ("^GSPC", 3, 4750.5, 0)),
        ("/stock/BRK.B/quote", ("BRK.B", 4, 361.0, 12.5)),
        ("/stock/brk.b/quote", ("BRK.B", 4, 361.0, 12.5)),
    ],
)
def test_symbols_in_paths_are_url_decoded_and_case_insensitive(
    finished_server, day_ms, path, expected
):
    symbol, step, close, volume = expected
    response = requests.get(finished_server.url + path, timeout=5)
    assert response.json() == close_quote(symbol, day_ms[step], close, volume)


def test_an_unknown_symbol_is_404_with_a_json_error(finished_server):
    for path in ("/stock/XYZ/quote", "/stock/XYZ/bars"):
        response = get(finished_server, path)
        assert response.status_code == 404
        assert response.json() == {"error": "unknown symbol XYZ"}


@pytest.mark.parametrize("path", ["/", "/stock/AAA", "/stock/AAA/chart", "/v1/status", "/a/b/c/d"])
def test_any_other_path_is_404_with_a_json_error(finished_server, path):
    response = requests.get(finished_server.url + path, timeout=5)
    assert response.status_code == 404
    assert "no such endpoint" in response.json()["error"]


def test_batch_quotes_leave_out_unknown_symbols(finished_server, day_ms):
    response = get(finished_server, "/stock/market/batch", symbols="AAA,XYZ,^GSPC", types="quote")
    assert response.status_code == 200
    assert response.json() == {
        "AAA": {"quote": aaa_quote(day_ms, 3)},
        "^GSPC": {"quote": close_quote("^GSPC", day_ms[3], 4750.5, 0)},
    }


def test_batch_bars_since_a_time(finished_server, day_ms):
    response = get(
        finished_server,
        "/stock/market/batch",
        symbols="AAA,BRK.B",
        types="bars,quote",
        since=str(day_ms[2]),
    )
    assert response.json() == {
        "AAA": {
            "bars": [aaa_quote(day_ms, 3)],
            "quote": aaa_quote(day_ms, 3),
        },
        "BRK.B": {
            "bars": [close_quote("BRK.B", day_ms[4], 361.0, 12.5)],
            "quote": close_quote("BRK.B", day_ms[4], 361.0, 12.5),
        },
    }


def test_bars_since_are_every_newer_bar_oldest_first(finished_server, day_ms):
    response = get(finished_server, "/stock/AAA/bars", since=str(day_ms[1]))
    assert response.json() == [
        aaa_quote(day_ms, 2),
        aaa_quote(day_ms, 3),
    ]
    assert [bar["latestUpdate"] for bar in get(finished_server, "/stock/AAA/bars").json()] == (
        day_ms[:4]
    )
    assert get(finished_server, "/stock/AAA/bars", since=str(day_ms[4])).json() == []


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/stock/AAA/bars", {"since": "yesterday"}),
        ("/stock/AAA/bars", {"since": "1.5"}),
        ("/stock/market/batch", {"symbols": "AAA", "types": "bars", "since": "x"}),
        ("/stock/market/batch", {"types": "quote"}),
        ("/stock/market/batch", {"symbols": "AAA", "types": "chart"}),
    ],
)
def test_a_bad_parameter_is_400_with_a_json_error(finished_server, path, params):
    response = get(finished_server, path, **params)
    assert response.status_code == 400
    assert response.json()["error"]


def test_a_batch_of_more_than_100_symbols_is_400(finished_server):
    symbols = ",".join(f"S{number}" for number in range(101))
    response = get(finished_server, "/stock/market/batch", symbols=symbols, types="quote")
    assert response.status_code == 400
    assert response.json() == {"error": "at most 100 symbols per batch, not 101"}


def test_other_methods_than_get_are_405(finished_server):
    response = requests.post(finished_server.url + "/status", timeout=5)
    assert response.status_code == 405
    assert response.json() == {"error": "POST is not allowed; use GET"}


def test_the_token_is_accepted_and_never_logged(market, caplog, capfd):
    with (
        ReplayServer(market, rate=0, access_log=True).start() as server,
        caplog.at_level(logging.DEBUG, logger="kafkatrade.market"),
    ):
        response = get(server, "/stock/AAA/quote", token="sk_SECRET123")
        get(server, "/nowhere", token="sk_SECRET123")
    assert response.status_code == 200
    assert "sk_SECRET123" not in caplog.text
    assert "token=***" in caplog.text
    assert "sk_SECRET123" not in "".join(capfd.readouterr())


def test_requests_are_not_logged_by_default(finished_server, capfd, caplog):
    with caplog.at_level(logging.INFO, logger="kafkatrade.market"):
        get(finished_server, "/stock/AAA/quote")
        get(finished_server, "/nowhere")
    assert caplog.text == ""
    assert capfd.readouterr().err == ""


# The replay clock.


def test_the_clock_reveals_one_step_per_1_over_rate_seconds(stepped_server, fake_time, day_ms):
    status = get(stepped_server, "/status").json()
    assert (status["clock"], status["step"], status["finished"]) == (
        "2024-01-01T00:00:00Z",
        1,
        False,
    )
    assert get(stepped_server, "/stock/AAA/quote").json()["latestUpdate"] == day_ms[0]
    # ^GSPC has no bar before day 2: a quote without a price.
    no_bar = get(stepped_server, "/stock/%5EGSPC/quote").json()
    assert no_bar == {
        "symbol": "^GSPC",
        "latestPrice": None,
        "latestVolume": None,
        "latestUpdate": None,
        "open": None,
        "high": None,
        "low": None,
        "close": None,
    }
    fake_time.seconds += 0.49
    assert get(stepped_server, "/status").json()["step"] == 1
    fake_time.seconds += 0.01  # rate 2: one step per half second
    assert get(stepped_server, "/status").json()["step"] == 2
    assert get(stepped_server, "/stock/%5EGSPC/quote").json()["latestUpdate"] == day_ms[1]
    assert get(stepped_server, "/stock/AAA/bars").json()[-1]["latestUpdate"] == day_ms[1]
    batch = get(stepped_server, "/stock/market/batch", symbols="BRK.B", types="quote,bars").json()
    assert batch == {"BRK.B": {"quote": batch["BRK.B"]["quote"], "bars": []}}
    assert batch["BRK.B"]["quote"]["latestPrice"] is None
    fake_time.seconds += 60
    status = get(stepped_server, "/status").json()
    assert (status["clock"], status["step"], status["finished"]) == (
        "2024-01-05T00:00:00Z",
        5,
        True,
    )


def test_replay_clock_steps():
    now = [0.0]
    clock = ReplayClock(steps=4, rate=0.5, now=lambda: now[0])
    seen = []
    for seconds in (0, 1.9, 2, 3.99, 4, 100):
        now[0] = seconds
        seen.append(clock.step())
    assert seen == [1, 1, 2, 2, 3, 4]
    assert ReplayClock(steps=4, rate=0).step() == 4
    assert ReplayClock(steps=0, rate=1).step() == 0


@pytest.mark.parametrize("rate", [-1, float("nan"), float("inf"), "fast"])
def test_a_bad_rate_is_refused(market, rate):
    with pytest.raises(ConfigError, match="rate must be"):
        ReplayServer(market, rate=rate)


def test_polling_bars_since_in_real_time_misses_no_bar():
    """20 steps at 20 steps a second; a poller that only asks for what is new sees every bar
    once, in order, and sees the data arrive over time."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    minutes = [start.replace(minute=minute) for minute in range(20)]
    data = MarketData(
        {
            "EVEN": [
                Bar(m, None, None, None, 100.0 + i, float(i))
                for i, m in enumerate(minutes)
                if i % 2 == 0
            ],
            "ALL": [Bar(m, None, None, None, 50.0 + i, float(i)) for i, m in enumerate(minutes)],
        }
    )
    expected = {
        symbol: [round(bar.timestamp.timestamp() * 1000) for bar in bars]
        for symbol, bars in data.items()
    }
    cursors = {"EVEN": -1, "ALL": -1}
    seen: dict[str, list[int]] = {"EVEN": [], "ALL": []}
    steps_seen = []
    with ReplayServer(data, rate=20).start() as server, requests.Session() as session:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status = session.get(server.url + "/status", timeout=5).json()
            steps_seen.append(status["step"])
            for symbol, cursor in cursors.items():
                bars = session.get(
                    f"{server.url}/stock/{symbol}/bars", params={"since": cursor}, timeout=5
                ).json()
                seen[symbol] += [bar["latestUpdate"] for bar in bars]
                if bars:
                    cursors[symbol] = bars[-1]["latestUpdate"]
            if status["finished"]:
                break
            time.sleep(0.03)
    assert seen == expected
    assert steps_seen[0] < 20 and steps_seen[-1] == 20
    assert len(set(steps_seen)) > 2  # the bars came over time, not all at once


def test_close_stops_the_server_and_its_kept_alive_connections(market):
    server = ReplayServer(market, rate=0).start()
    session = requests.Session()
    assert session.get(server.url + "/status", timeout=5).status_code == 200
    server.close()
    with pytest.raises(requests.ConnectionError):
        session.get(server.url + "/status", timeout=5)
    session.close()


def test_a_port_in_use_is_a_clear_error(market):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            ReplayServer(market, port=port, rate=0).start()
