"""One document the server refuses for good does not hold back, or lose, the rest of a batch."""

from datetime import UTC, datetime, timedelta

import pytest

from kafkatrade.db import mongo
from kafkatrade.models import Quote

pytestmark = pytest.mark.stack
T0 = datetime(2004, 8, 19, tzinfo=UTC)


def quotes(prices: list[float]) -> list[Quote]:
    return [Quote("GOOG", p, 1, T0 + timedelta(days=i), "test") for i, p in enumerate(prices)]


def alien_holds(db, day: int) -> None:
    """A document with our unique key (symbol + timestamp) but another `_id`, as an older
    writer could have left: the server must refuse our quote of that day."""
    db.quotes.insert_one({"symbol": "GOOG", "timestamp": T0 + timedelta(days=day), "price": 1.0})


def test_a_refused_document_is_named_and_the_rest_of_the_batch_is_stored(db):
    alien_holds(db, 2)
    batch = quotes([100, 101, 102, 103, 104])
    with pytest.raises(mongo.DocumentsRejected) as refused:
        mongo.upsert_quotes(db, batch)
    assert set(refused.value.rejected) == {mongo.quote_key(batch[2])}
    assert refused.value.written == 4
    stored = {d["_id"]: d["price"] for d in db.quotes.find({"_id": {"$type": "string"}})}
    assert stored == {mongo.quote_key(q): q.price for q in batch if q is not batch[2]}


def test_a_replayed_batch_with_a_refused_document_still_replaces_the_others(db):
    alien_holds(db, 0)
    with pytest.raises(mongo.DocumentsRejected):
        mongo.upsert_quotes(db, quotes([100, 101, 102]))
    replay = quotes([100, 201, 202])  # the same keys, corrected prices
    with pytest.raises(mongo.DocumentsRejected) as refused:
        mongo.upsert_quotes(db, replay)
    assert set(refused.value.rejected) == {mongo.quote_key(replay[0])}
    stored = {d["_id"]: d["price"] for d in db.quotes.find({"_id": {"$type": "string"}})}
    assert stored == {mongo.quote_key(replay[1]): 201, mongo.quote_key(replay[2]): 202}
    assert db.quotes.count_documents({}) == 3  # the alien one untouched, nothing doubled


def test_document_ids_are_the_unique_keys(db):
    quote = quotes([100])[0]
    assert mongo.document_id(quote) == "GOOG@2004-08-19T00:00:00Z"
