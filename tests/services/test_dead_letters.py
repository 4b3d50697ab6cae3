"""The dbservice on a real broker and FerretDB, fed the malformed-record corpus.

Every bad record must end up in its topic's dead-letter topic, byte for byte, with headers
naming why, where it was and who refused it; every good one in MongoDB exactly once; the
offsets committed; and `kafkatrade_dlq_messages_total` counting each by topic and reason.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from kafkatrade.db import mongo
from kafkatrade.kafka import clients
from kafkatrade.kafka.dlq import (
    MESSAGE_HEADER,
    OFFSET_HEADER,
    PARTITION_HEADER,
    REASON_HEADER,
    SERVICE_HEADER,
    TOPIC_HEADER,
    read_dead_letters,
)
from kafkatrade.kafka.lag import LagReader
from kafkatrade.models import Order, Quote, Reason, order_id
from tests.conftest import free_port
from tests.faults.corpus import CORPUS, RawKey
from tests.support import start_service, wait_for

pytestmark = pytest.mark.stack
T0 = datetime(2022, 6, 1, 14, 30, tzinfo=UTC)


def good_quotes() -> list[Quote]:
    return [
        Quote(symbol, 100.0 + i, 1000, T0 + timedelta(days=i), "test")
        for symbol in ("AAPL", "^GSPC")
        for i in range(12)
    ]


def good_orders() -> list[Order]:
    made = []
    for i in range(8):
        when = T0 + timedelta(days=i)
        side = "BUY" if i % 2 == 0 else "SELL"
        made.append(
            Order(
                order_id("MSFT", "sma_trend", when, side),
                "MSFT",
                side,
                10,
                250.0,
                when,
                "sma_trend",
                when,
            )
        )
    return made


def dlq_counts(port: int) -> Counter:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return Counter(
        {
            (sample.labels["topic"], sample.labels["reason"]): sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "kafkatrade_dlq_messages"
            for sample in family.samples
            if sample.name == "kafkatrade_dlq_messages_total" and sample.value
        }
    )


def test_bad_records_go_to_the_dead_letter_topics_and_good_ones_to_mongodb(isolated, tmp_path):
    settings = isolated.replace(metrics_port=free_port())
    topic_of = {"quotes": settings.quotes_topic, "orders": settings.orders_topic}
    quotes, orders = good_quotes(), good_orders()
    # A document that holds a quote's unique key under another _id, as an older writer could
    # have left: the database refuses that quote for good, and it must be dead-lettered too.
    refused_quote = quotes[5]
    db = mongo.connect(settings)
    db.quotes.insert_one({"symbol": "AAPL", "timestamp": refused_quote.timestamp, "price": 1.0})

    # Bad records straight onto the topics, between good ones; a few good ones twice.
    expected: dict[tuple[str, int, int], tuple[bytes | None, bytes | None, str]] = {}
    good = [(settings.quotes_topic, q.symbol.encode(), q.to_json()) for q in quotes]
    good += [(settings.orders_topic, o.symbol.encode(), o.to_json()) for o in orders]
    good += good[:3]
    bad = [entry for entry in CORPUS if entry.kind in topic_of]
    producer = clients.producer(settings, key_serializer=RawKey())
    try:
        for i in range(max(len(good), len(bad))):
            if i < len(good):
                producer.send(good[i][0], key=good[i][1], value=good[i][2])
            if i < len(bad):
                entry = bad[i]
                key = RawKey.NO_KEY if entry.key is None else entry.key
                meta = producer.send(topic_of[entry.kind], key=key, value=entry.value).get(30)
                expected[(meta.topic, meta.partition, meta.offset)] = (
                    entry.key,
                    entry.value,
                    entry.reason,
                )
        producer.flush()
    finally:
        producer.close()
    refused_meta = None  # where the refused quote is: found from the dead letters below

    service = start_service(settings, tmp_path, "dbservice", "dbservice", "--instance", "1")
    try:
        with LagReader(settings) as lag:

            def caught_up() -> bool:
                assert service.poll() is None, (tmp_path / "dbservice.log").read_text()
                return all(
                    not any(lag.group_lag(group, topic).values())
                    for group, topic in (
                        (settings.db_quotes_group, settings.quotes_topic),
                        (settings.db_orders_group, settings.orders_topic),
                    )
                )

            wait_for(caught_up, 90, "both consumer groups committed every offset")

        letters = read_dead_letters(settings, settings.quotes_topic)
        letters += read_dead_letters(settings, settings.orders_topic)
        assert len(letters) == len(bad) + 1
        for letter in letters:
            origin = (letter.topic, letter.partition, letter.offset)
            if letter.reason == Reason.DB_REJECTED:
                refused_meta = origin
                assert json.loads(letter.value) == json.loads(refused_quote.to_json())
                assert letter.key == b"AAPL"
                assert "duplicate key" in letter.message.lower()
                continue
            key, value, reason = expected.pop(origin)
            assert (letter.key, letter.value, letter.reason) == (key, value, reason), origin
            assert letter.service == "dbservice"
            assert letter.message
            assert {
                REASON_HEADER,
                MESSAGE_HEADER,
                SERVICE_HEADER,
                TOPIC_HEADER,
                PARTITION_HEADER,
                OFFSET_HEADER,
            } <= set(letter.headers)
        assert expected == {}, "bad records missing from the dead-letter topics"
        assert refused_meta is not None and refused_meta[0] == settings.quotes_topic

        stored_quotes = {d["_id"] for d in db.quotes.find({"_id": {"$type": "string"}})}
        assert stored_quotes == {mongo.quote_key(q) for q in quotes if q is not refused_quote}
        assert db.quotes.count_documents({}) == len(quotes)  # the alien document included
        assert {d["_id"] for d in db.orders.find()} == {o.order_id for o in orders}
        assert db.orders.count_documents({}) == len(orders)

        counted = dlq_counts(settings.metrics_port)
        wanted = Counter((topic_of[entry.kind], str(entry.reason)) for entry in bad)
        wanted[(settings.quotes_topic, "db_rejected")] += 1
        assert counted == wanted
    finally:
        service.terminate()
        service.wait(30)
        db.client.drop_database(db.name)
        db.client.close()
