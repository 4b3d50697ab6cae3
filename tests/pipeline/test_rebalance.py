"""Downloaders in their consumer group on the real broker: shares, failover, changes of symbols.

The article's downloader reads its symbols once and leaves the group, so a restart waits
forever; ours stays in the group and follows the `Stocks` partitions it holds.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from kafkatrade import symbols as catalogue
from kafkatrade.market.server import ReplayServer
from kafkatrade.marketdata import load
from tests.support import group_partitions, kafkatrade, read_quotes, start_service, wait_for

pytestmark = pytest.mark.stack


def kafkatrade_status(settings) -> str:
    finished = kafkatrade("status", "--json", settings=settings)
    assert finished.returncode == 0, finished.stderr
    return finished.stdout


def quote_counts(settings) -> Counter:
    return Counter(q.symbol for q in read_quotes(settings))


def test_downloaders_share_fail_over_follow_symbol_changes_and_resume(isolated, tmp_path):
    data = load()
    # 8 steps/s: the monthly series go on arriving for about three minutes.
    with ReplayServer(data, rate=8).start() as market:
        settings = isolated.replace(provider_url=market.url)
        group = settings.downloader_group
        first = [s for s in data if s != "AAPL"]
        catalogue.publish(settings, first)
        table, _ = catalogue.read_catalogue(settings)
        processes = []
        try:
            one = start_service(settings, tmp_path, "one", "downloader", "--instance", "one")
            processes.append(one)
            wait_for(
                lambda: group_partitions(settings, group) == {"downloader-one": {0, 1}},
                60,
                "the first downloader owns both partitions",
            )
            early = {"IBM", "MSFT", "XRX", "ADBE", "^GSPC", "^IXIC"}  # bars from 1990 on
            wait_for(lambda: set(quote_counts(settings)) >= early, 60, "quotes flow")

            two = start_service(settings, tmp_path, "two", "downloader", "--instance", "two")
            processes.append(two)
            members = wait_for(
                lambda: (m := group_partitions(settings, group)) and len(m) == 2 and m,
                60,
                "two members with one partition each",
            )
            shares = [
                set().union(*(table.by_partition[p] for p in parts)) for parts in members.values()
            ]
            assert all(shares), shares  # non-empty
            assert shares[0].isdisjoint(shares[1])
            assert shares[0] | shares[1] == set(first)
            # `kafkatrade status --json` tells the same ownership
            report = json.loads(kafkatrade_status(settings))
            for client, parts in members.items():
                for partition in parts:
                    for symbol in table.by_partition[partition]:
                        assert report["symbols"][symbol]["downloader"] == client
            assert report["groups"][group]["lag"] is None  # it commits nothing

            two.terminate()
            two.wait(15)
            began = time.monotonic()
            wait_for(
                lambda: group_partitions(settings, group) == {"downloader-one": {0, 1}},
                30,
                "the survivor owns all partitions within 30 s",
            )
            assert time.monotonic() - began < 30

            catalogue.publish(settings, ["AAPL"])  # published later, picked up without restart
            wait_for(lambda: quote_counts(settings)["AAPL"] > 0, 30, "quotes of AAPL")

            catalogue.remove(settings, "IBM")
            time.sleep(3)  # a poll in flight may still publish once
            before = quote_counts(settings)
            wait_for(
                lambda: sum(quote_counts(settings).values()) > sum(before.values()) + 20,
                60,
                "more quotes of the other symbols",
            )
            assert quote_counts(settings)["IBM"] == before["IBM"], "a removed symbol got quotes"

            one.kill()  # kill -9: no goodbye to the group
            one.wait()
            before = quote_counts(settings)
            three = start_service(settings, tmp_path, "three", "downloader", "--instance", "3")
            processes.append(three)
            wait_for(
                lambda: group_partitions(settings, group) == {"downloader-3": {0, 1}},
                60,
                "the restarted downloader resumes every partition",
            )
            wait_for(
                lambda: all(quote_counts(settings)[s] > before[s] for s in ("MSFT", "GOOG")),
                90,
                "the restarted downloader publishes again",
            )
        finally:
            for process in processes:
                process.kill()
                process.wait()
        published = Counter((q.symbol, q.timestamp) for q in read_quotes(settings))
        duplicates = {key: n for key, n in published.items() if n > 1}
        assert not duplicates, f"quotes published twice: {list(duplicates)[:5]}"
        for symbol, bars in data.items():  # nothing skipped: each symbol's quotes are a prefix
            times = sorted(t for s, t in published if s == symbol)
            assert times == [bar.timestamp for bar in bars[: len(times)]], symbol
