"""The `quotes` and `orders` collections: unique indexes and idempotent bulk upserts.

Upserting on the unique key makes a replayed record overwrite itself instead of adding a
copy, so at-least-once delivery from Kafka stores every record exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable

from pymongo import ASCENDING, MongoClient, UpdateOne
from pymongo.database import Database
from pymongo.errors import PyMongoError

from kafkatrade.config import Settings
from kafkatrade.models import Order, Quote

QUOTES = "quotes"
ORDERS = "orders"


class DatabaseUnavailable(RuntimeError):
    """MongoDB did not answer."""


def connect(settings: Settings, timeout: float = 10.0) -> Database:
    """The configured database, after a ping; DatabaseUnavailable with a one-line reason."""
    client: MongoClient = MongoClient(
        settings.mongo_address, serverSelectionTimeoutMS=int(timeout * 1000), tz_aware=True
    )
    try:
        client.admin.command("ping")
    except PyMongoError as error:
        client.close()
        raise DatabaseUnavailable(
            f"MongoDB did not answer within {timeout:g} s ({type(error).__name__}); is it running "
            "(`kafkatrade stack up`) and KAFKATRADE_MONGO_URI right?"
        ) from None
    return client[settings.mongo_db]


def ensure_indexes(db: Database) -> None:
    db[QUOTES].create_index(
        [("symbol", ASCENDING), ("timestamp", ASCENDING)], unique=True, name="symbol_timestamp"
    )
    db[ORDERS].create_index([("order_id", ASCENDING)], unique=True, name="order_id")


def quote_document(quote: Quote) -> dict:
    """BSON-ready: a real date, and no NaN (the models refuse them, FerretDB would too)."""
    return quote.to_dict() | {"timestamp": quote.timestamp}


def order_document(order: Order) -> dict:
    return order.to_dict() | {
        "timestamp": order.timestamp,
        "quote_timestamp": order.quote_timestamp,
    }


def upsert_quotes(db: Database, quotes: Iterable[Quote]) -> int:
    """Stores the quotes, each once; the number of statements sent."""
    # One statement per key: two upserts of one key in a bulk could race into a duplicate.
    latest = {(q.symbol, q.timestamp): q for q in quotes}
    operations = [
        UpdateOne({"symbol": s, "timestamp": t}, {"$set": quote_document(q)}, upsert=True)
        for (s, t), q in latest.items()
    ]
    if operations:
        db[QUOTES].bulk_write(operations, ordered=False)
    return len(operations)


def upsert_orders(db: Database, orders: Iterable[Order]) -> int:
    latest = {o.order_id: o for o in orders}
    operations = [
        UpdateOne({"order_id": key}, {"$set": order_document(o)}, upsert=True)
        for key, o in latest.items()
    ]
    if operations:
        db[ORDERS].bulk_write(operations, ordered=False)
    return len(operations)


def stored_orders(db: Database) -> list[Order]:
    """Every stored order, oldest first."""
    fields = {"_id": False}
    return [
        Order(
            order_id=d["order_id"],
            symbol=d["symbol"],
            side=d["side"],
            quantity=d["quantity"],
            price=d["price"],
            timestamp=d["timestamp"],
            strategy=d["strategy"],
            quote_timestamp=d["quote_timestamp"],
        )
        for d in db[ORDERS].find({}, fields).sort([("timestamp", ASCENDING), ("order_id", 1)])
    ]
