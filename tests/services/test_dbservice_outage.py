"""The dbservice with its database down: it commits nothing, and catches up when it is back.

A FerretDB of this test's own (the session's is shared), stopped and started again with its
data folder, under a real consumer group on the real broker.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from pymongo.errors import PyMongoError

from kafkatrade.db import mongo
from kafkatrade.kafka import clients, dlq
from kafkatrade.kafka.lag import LagReader
from kafkatrade.models import Quote, parse_record
from kafkatrade.services import dbservice
from kafkatrade.stack.mongo_server import MongoServer
from kafkatrade.stack.processes import Processes
from tests.conftest import free_port

pytestmark = pytest.mark.stack
T0 = datetime(2022, 6, 1, tzinfo=UTC)


def test_database_down_commits_nothing_and_the_batch_is_stored_once_it_is_back(isolated, tmp_path):
    settings = isolated.replace(home=tmp_path, mongo_port=free_port(), mongo_uri=None)
    server = MongoServer(settings, Processes(tmp_path / "run"))
    assert server.kind == "ferretdb"
    server.start()
    server.wait_ready(30)
    db = mongo.connect(settings, timeout=2.0)
    mongo.ensure_indexes(db)
    quotes = [Quote("AAPL", 100.0 + i, 1, T0 + timedelta(days=i), "test") for i in range(20)]
    producer = clients.producer(settings)
    for quote in quotes:
        producer.send(settings.quotes_topic, key=quote.symbol, value=quote.to_json())
    producer.flush()
    stream = dbservice._Stream(
        settings,
        settings.quotes_topic,
        settings.db_quotes_group,
        "db-outage",
        partial(parse_record, "quotes"),
        mongo.upsert_quotes,
    )
    letters = dlq.DeadLetters(clients.producer(settings, **dlq.PRODUCER_CONFIG), "dbservice")
    lag = LagReader(settings)
    try:
        server.stop()
        failed = None
        for _ in range(30):  # the first polls may only join the group
            try:
                assert dbservice.store_batch(db, stream, letters, timeout_ms=2000) == 0
            except PyMongoError as error:
                failed = error
                break
        assert failed is not None, "the write never failed with the database down"
        assert sum(lag.group_lag(settings.db_quotes_group, settings.quotes_topic).values()) == 20

        server.start()
        server.wait_ready(30)
        stored = 0
        for _ in range(30):
            stored += dbservice.store_batch(db, stream, letters, timeout_ms=1000)
            if not any(lag.group_lag(settings.db_quotes_group, settings.quotes_topic).values()):
                break
        assert stored == 20  # the failed batch again, from its first record
        assert db.quotes.count_documents({}) == 20
        assert {d["price"] for d in db.quotes.find()} == {q.price for q in quotes}
    finally:
        lag.close()
        stream.consumer.close()
        letters.producer.close()
        producer.close()
        db.client.close()
        server.stop()
