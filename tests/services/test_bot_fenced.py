"""Two bots started with the same `--instance` share a transactional id: the later one
fences the earlier, which stops with one clear line (no traceback) instead of trading on."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from kafkatrade.kafka import clients
from kafkatrade.models import Quote, epoch_ms
from tests.support import start_service, wait_for

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
        producer = clients.producer(isolated)
        t0 = datetime(2024, 5, 1, 14, 30, tzinfo=UTC)
        try:
            # Quotes on every partition until the first bot transacts again, and is refused.
            for minute in range(600):
                if first.poll() is not None:
                    break
                for symbol in ("AAPL", "MSFT", "GOOG", "IBM"):
                    quote = Quote(
                        symbol, 100.0 + minute % 7, 10, t0 + timedelta(minutes=minute), "test"
                    )
                    producer.send(
                        isolated.quotes_topic,
                        key=symbol,
                        value=quote.to_json(),
                        timestamp_ms=epoch_ms(quote.timestamp),
                    )
                producer.flush()
                time.sleep(0.1)
        finally:
            producer.close()
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
