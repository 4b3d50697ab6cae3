"""Two bots started with the same `--instance` share a transactional id: the later one
fences the earlier, which stops with one clear line (no traceback) instead of trading on."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from kafkatrade.models import Quote
from tests.support import send_quotes, start_service, wait_for

pytestmark = pytest.mark.stack


def test_a_bot_fenced_by_a_second_one_with_its_instance_stops_with_one_line(isolated, tmp_path):
    first = start_service(isolated, tmp_path, "first", "bot", "--instance", "7")
    second = None
    try:
        log = tmp_path / "first.log"
        wait_for(lambda: "partitions assigned" in log.read_text(), 60, "the first bot assigned")
        second = start_service(isolated, tmp_path, "second", "bot", "--instance", "7")
        wait_for(
            lambda: "started" in (tmp_path / "second.log").read_text(), 60, "the second bot up"
        )
        t0 = datetime(2024, 5, 1, 14, 30, tzinfo=UTC)
        # Quotes on every partition until the first bot transacts again, and is refused.
        for minute in range(600):
            if first.poll() is not None:
                break
            when = t0 + timedelta(minutes=minute)
            symbols = ("AAPL", "MSFT", "GOOG", "IBM")
            send_quotes(isolated, [Quote(s, 100.0 + minute % 7, 10, when, "test") for s in symbols])
            time.sleep(0.1)
        assert first.wait(60) == 1
        text = log.read_text()
        errors = [line for line in text.splitlines() if line.startswith("kafkatrade: error:")]
        assert len(errors) == 1, text[-3000:]
        assert "took over transactional id" in errors[0] and "--instance" in errors[0]
        assert "Traceback" not in text
        assert second.poll() is None  # the newer bot trades on
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(30)
