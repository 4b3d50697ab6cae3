"""Every malformed record of the corpus is refused with exactly its reason; valid ones pass."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from kafkatrade.models import (
    MAX_RECORD_BYTES,
    InvalidRecord,
    Order,
    Quote,
    Reason,
    parse_record,
)
from tests.faults.corpus import CORPUS, VALID, quote

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("entry", CORPUS, ids=[entry.name for entry in CORPUS])
def test_each_malformed_record_is_refused_with_its_reason(entry):
    with pytest.raises(InvalidRecord) as refused:
        parse_record(entry.kind, entry.key, entry.value)
    assert refused.value.reason == entry.reason, str(refused.value)
    assert len(str(refused.value)) < 300  # a message fit for a log line and a header


def test_the_corpus_covers_every_rule_at_least_once():
    names = [entry.name for entry in CORPUS]
    assert len(names) == len(set(names)) >= 30
    covered = Counter(entry.reason for entry in CORPUS)
    # db_rejected comes from the database, invalid_record from callers that give no reason.
    assert set(Reason) - set(covered) == {Reason.DB_REJECTED, Reason.INVALID}
    assert {entry.kind for entry in CORPUS} == {"quotes", "orders", "stocks"}


@pytest.mark.parametrize(("kind", "key", "value"), VALID)
def test_valid_records_pass(kind, key, value):
    parsed = parse_record(kind, key, value)
    if kind == "stocks":
        assert parsed == key.decode()
    else:
        assert parsed.symbol == key.decode()
        assert parsed == type(parsed).from_json(parsed.to_json())


def test_a_valid_quote_reads_as_the_design_says():
    parsed = parse_record("quotes", b"AAPL", quote(open=188.0))
    assert parsed == Quote(
        "AAPL", 189.5, 123400, datetime(2024, 5, 1, 14, 30, tzinfo=UTC), "replay", open=188.0
    )


def test_event_times_may_be_at_most_an_hour_ahead_of_now():
    at_limit = quote(timestamp="2024-05-01T13:00:00Z")
    assert parse_record("quotes", b"AAPL", at_limit, now=NOW).timestamp.hour == 13
    past_limit = quote(timestamp="2024-05-01T13:00:00.001Z")
    with pytest.raises(InvalidRecord) as refused:
        parse_record("quotes", b"AAPL", past_limit, now=NOW)
    assert refused.value.reason == Reason.TIMESTAMP


def test_an_order_time_ahead_is_refused_too():
    order = {
        "order_id": "X:s:t:BUY",
        "symbol": "X",
        "side": "BUY",
        "quantity": 1,
        "price": 1.0,
        "timestamp": "2024-05-01T12:00:00Z",
        "strategy": "s",
        "quote_timestamp": "2024-05-01T14:00:00Z",
    }
    with pytest.raises(InvalidRecord) as refused:
        Order.from_json(json.dumps(order), now=NOW)
    assert refused.value.reason == Reason.TIMESTAMP
    assert Order.from_json(json.dumps(order), now=NOW.replace(hour=13)).quantity == 1


def test_the_size_limit_is_on_the_value_bytes():
    padding = MAX_RECORD_BYTES - len(quote(source=""))
    largest = quote(source="x" * padding)
    assert len(largest) == MAX_RECORD_BYTES
    assert parse_record("quotes", b"AAPL", largest).source == "x" * padding
    with pytest.raises(InvalidRecord) as refused:
        parse_record("quotes", b"AAPL", quote(source="x" * (padding + 1)))
    assert refused.value.reason == Reason.TOO_LARGE


def test_a_stocks_tombstone_gives_the_symbol_it_removes():
    assert parse_record("stocks", b"BRK.B", None) == "BRK.B"


def test_invalid_record_without_a_reason_is_generic():
    assert InvalidRecord("from a provider").reason == Reason.INVALID == "invalid_record"
