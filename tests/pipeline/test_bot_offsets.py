"""The bot meets committed offsets of an earlier topic of the same name (deleted, recreated)."""

from __future__ import annotations

import pytest
from kafka import OffsetAndMetadata, TopicPartition

from kafkatrade.kafka import clients
from kafkatrade.marketdata import load
from tests.reference import expected_orders
from tests.support import read_orders, send_quotes, start_service, wait_for

pytestmark = pytest.mark.stack


def test_offsets_beyond_the_end_of_a_recreated_topic_do_not_silence_the_bot(isolated, tmp_path):
    settings = isolated
    bars = load()["GOOG"]
    # What a former Quotes topic left behind: the group committed far past today's end.
    group = clients.consumer(settings, settings.bot_group)
    try:
        group.commit(
            {
                TopicPartition(settings.quotes_topic, p): OffsetAndMetadata(5000, "", -1)
                for p in (0, 1)
            }
        )
    finally:
        group.close()
    send_quotes(settings, [bar.to_quote("GOOG", "test") for bar in bars])
    want = [
        (side, quantity, price)
        for _, side, quantity, price in expected_orders([bar.close for bar in bars], "sma_trend")
    ]
    bot = start_service(settings, tmp_path, "bot", "bot", "--instance", "1")
    try:
        wait_for(
            lambda: len(read_orders(settings)) >= len(want), 60, f"the {len(want)} orders of GOOG"
        )
    finally:
        bot.terminate()
        bot.wait(15)
    assert [(o.side, o.quantity, o.price) for o in read_orders(settings)] == want
