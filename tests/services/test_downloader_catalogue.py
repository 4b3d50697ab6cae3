"""The downloader's share of `Stocks` on the real broker: malformed records are dead-lettered
once, however often the partitions are read again, and never become symbols."""

from __future__ import annotations

from collections import Counter

import pytest

from kafkatrade.kafka.dlq import read_dead_letters
from kafkatrade.models import Reason
from tests.conftest import free_port
from tests.faults.corpus import CORPUS, Malformed, produce
from tests.support import start_service, wait_for

pytestmark = pytest.mark.stack

GOOD = [
    Malformed("add", "stocks", b"AAPL", b"AAPL", Reason.INVALID),
    Malformed("add", "stocks", b"BRK.B", b"BRK.B", Reason.INVALID),
    Malformed("add", "stocks", b"^GSPC", b"^GSPC", Reason.INVALID),
    Malformed("remove", "stocks", b"BRK.B", None, Reason.INVALID),
]


def test_bad_stocks_records_are_dead_lettered_once_across_restarts(isolated, tmp_path):
    # Nothing answers on the provider's port: the downloader only reads its share here.
    settings = isolated.replace(market_port=free_port(), provider_url=None)
    bad = [entry for entry in CORPUS if entry.kind == "stocks" and entry.key is not None]
    placed, refused = produce(settings, GOOD[:3] + bad + GOOD[3:])
    assert not refused
    want = Counter(
        (position, str(entry.reason))
        for position, entry in placed.items()
        if entry.name not in {"add", "remove"}
    )
    assert want.total() == len(bad) >= 6

    def letters() -> Counter:
        found = read_dead_letters(settings, settings.stocks_topic)
        assert {d.service for d in found} <= {"downloader"}
        return Counter(((d.topic, d.partition, d.offset), d.reason) for d in found)

    for instance in ("1", "2", "1"):  # each start reads both partitions from the beginning
        log = tmp_path / f"downloader-{instance}.log"
        before = log.read_text().count("symbols=AAPL,^GSPC\n") if log.exists() else 0
        service = start_service(settings, tmp_path, f"downloader-{instance}", "downloader",
                                "--instance", instance)  # fmt: skip
        try:
            wait_for(
                lambda: log.read_text().count("symbols=AAPL,^GSPC\n") > before,  # noqa: B023
                90,
                f"downloader {instance} owns ^GSPC and AAPL, and no other symbol",
            )
            assert letters() == want
        finally:
            service.terminate()
            assert service.wait(30) == 0
