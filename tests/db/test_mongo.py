"""Storage on the real MongoDB-protocol server: indexes, idempotent writes, replays."""

from datetime import UTC, datetime, timedelta

import pytest

from kafkatrade.db import mongo
from kafkatrade.models import Order, Quote, order_id

pytestmark = pytest.mark.stack
T0 = datetime(2004, 8, 19, tzinfo=UTC)


def quotes(n: int, symbol: str = "GOOG", price: float = 100.0) -> list[Quote]:
    return [Quote(symbol, price + i, 1000 + i, T0 + timedelta(days=i), "test") for i in range(n)]


def test_each_quote_is_stored_once_however_often_it_is_written(db):
    batch = quotes(50)
    mongo.upsert_quotes(db, batch)
    mongo.upsert_quotes(db, batch[10:30])  # a replay after a crash
    mongo.upsert_quotes(db, batch[45:] + quotes(3, "AAPL"))  # half replay, half new
    assert db.quotes.count_documents({}) == 53
    stored = db.quotes.find_one({"symbol": "GOOG", "timestamp": T0 + timedelta(days=7)})
    assert stored["price"] == 107.0
    assert stored["volume"] == 1007
    assert stored["timestamp"] == T0 + timedelta(days=7)  # a real date, not a string


def test_a_replayed_key_takes_the_latest_values(db):
    mongo.upsert_quotes(db, quotes(5))
    corrected = Quote("GOOG", 250.0, 1, T0 + timedelta(days=2), "test")
    mongo.upsert_quotes(db, [corrected])
    assert db.quotes.count_documents({}) == 5
    assert db.quotes.find_one({"timestamp": T0 + timedelta(days=2)})["price"] == 250.0


def test_the_unique_indexes_exist(db):
    indexes = {i["name"]: i for i in db.quotes.list_indexes()}
    assert indexes["symbol_timestamp"]["unique"] is True
    assert list(indexes["symbol_timestamp"]["key"]) == ["symbol", "timestamp"]
    assert {i["name"]: i.get("unique") for i in db.orders.list_indexes()}["order_id"] is True


def test_orders_are_stored_once_and_read_back_in_time_order(db):
    made = []
    for day, side in ((3, "SELL"), (1, "BUY")):
        when = T0 + timedelta(days=day)
        made.append(
            Order(
                order_id("GOOG", "sma_trend", when, side),
                "GOOG",
                side,
                52,
                189.5,
                when,
                "sma_trend",
                when,
            )
        )
    mongo.upsert_orders(db, made)
    mongo.upsert_orders(db, made)
    assert [o.side for o in mongo.stored_orders(db)] == ["BUY", "SELL"]
    assert mongo.stored_orders(db)[0] == made[1]
