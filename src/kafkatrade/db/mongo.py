"""The `quotes` and `orders` collections: unique indexes and idempotent bulk upserts.

Upserting on the unique key makes a replayed record overwrite itself instead of adding a
copy, so at-least-once delivery from Kafka stores every record exactly once. A document the
server refuses for good does not hold the others back: they are written, and the refused ones
are reported (`DocumentsRejected`) for the caller to dead-letter.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from pymongo import ASCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, PyMongoError, WriteError

from kafkatrade import metrics
from kafkatrade.config import Settings
from kafkatrade.models import Order, Quote, format_time

QUOTES = "quotes"
ORDERS = "orders"
DUPLICATE_KEY = 11000


class DatabaseUnavailable(RuntimeError):
    """MongoDB did not answer."""


class DocumentsRejected(RuntimeError):
    """The server refused some documents of a batch for good; the others are written.

    `rejected` maps each refused `_id` to the server's message; `written` counts the others.
    """

    def __init__(self, rejected: dict[str, str], written: int) -> None:
        super().__init__(f"{len(rejected)} documents refused: {sorted(rejected)[:5]}")
        self.rejected = rejected
        self.written = written


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
            f"MongoDB at {_without_credentials(settings.mongo_address)} did not answer within "
            f"{timeout:g} s ({type(error).__name__}); is it running "
            "(`kafkatrade stack up`) and KAFKATRADE_MONGO_URI right?"
        ) from None
    return client[settings.mongo_db]


def _without_credentials(uri: str) -> str:
    """The URI with its user and password left out, fit for a message."""
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def ensure_indexes(db: Database) -> None:
    db[QUOTES].create_index(
        [("symbol", ASCENDING), ("timestamp", ASCENDING)], unique=True, name="symbol_timestamp"
    )
    db[ORDERS].create_index([("order_id", ASCENDING)], unique=True, name="order_id")


def quote_key(quote: Quote) -> str:
    """The `_id` of a quote: its unique key (symbol + timestamp) as one string.

    Keying on `_id` lets the server's primary key catch a replay, whatever else it indexes.
    """
    return f"{quote.symbol}@{format_time(quote.timestamp)}"


def quote_document(quote: Quote) -> dict:
    """BSON-ready: a real date, and no NaN (the models refuse them, FerretDB would too)."""
    return quote.to_dict() | {"_id": quote_key(quote), "timestamp": quote.timestamp}


def document_id(item: Quote | Order) -> str:
    """The `_id` a quote or an order is stored under."""
    return item.order_id if isinstance(item, Order) else quote_key(item)


def order_document(order: Order) -> dict:
    return order.to_dict() | {
        "_id": order.order_id,
        "timestamp": order.timestamp,
        "quote_timestamp": order.quote_timestamp,
    }


def _insert(collection: Collection, documents: dict[str, dict]) -> dict[str, dict]:
    """Inserts the documents in one unordered bulk; the write error of each one not inserted.

    Unordered, so one failing document does not stop the rest (FerretDB goes on too).
    """
    try:
        collection.insert_many(list(documents.values()), ordered=False)
    except BulkWriteError as error:
        details = error.details
        if details.get("writeConcernErrors") or not details.get("writeErrors"):
            raise
        ids = list(documents)
        return {ids[e["index"]]: e for e in details["writeErrors"]}
    return {}


def _store(collection: Collection, documents: dict[str, dict]) -> int:
    """Inserts the documents, replacing those whose `_id` is already stored (an upsert).

    The fast path is one unordered bulk insert. A replayed record meets its own `_id`; then
    the stored copies are deleted and those documents inserted again. FerretDB's SQLite
    backend needs this: it writes a bulk insert in one go, but a bulk of upserts statement
    by statement, hundreds of times slower. Should the process die between the delete and
    the insert, its offsets were not committed, so the batch is written again.

    A document still refused after that (a value the server does not take, or a unique key
    held by a document that is not ours) is tried once more alone, as an upsert; if the
    server refuses it again, it is refused for good: the others are written all the same,
    and DocumentsRejected names the refused ones. Connection errors are raised as they come.
    """
    if not documents:
        return 0
    rejected: dict[str, str] = {}
    with metrics.DB_WRITE_SECONDS.labels(collection.name).time():
        failed = _insert(collection, documents)
        replayed = [key for key, e in failed.items() if e.get("code") == DUPLICATE_KEY]
        if replayed:
            collection.delete_many({"_id": {"$in": replayed}})
            failed = {key: e for key, e in failed.items() if key not in replayed}
            failed |= _insert(collection, {key: documents[key] for key in replayed})
        for key in failed:
            try:
                collection.replace_one({"_id": key}, documents[key], upsert=True)
            except WriteError as error:
                rejected[key] = (error.details or {}).get("errmsg", str(error))
    written = len(documents) - len(rejected)
    metrics.DB_DOCUMENTS_WRITTEN.labels(collection.name).inc(written)
    if rejected:
        raise DocumentsRejected(rejected, written)
    return written


def upsert_quotes(db: Database, quotes: Iterable[Quote]) -> int:
    """Stores the quotes, each once (the last of a key wins); the number of documents.
    DocumentsRejected when the server refused some for good (the others are stored)."""
    return _store(db[QUOTES], {quote_key(q): quote_document(q) for q in quotes})


def upsert_orders(db: Database, orders: Iterable[Order]) -> int:
    """Stores the orders, each once; the number of documents (DocumentsRejected: as quotes)."""
    return _store(db[ORDERS], {o.order_id: order_document(o) for o in orders})


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
