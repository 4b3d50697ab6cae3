"""Malformed records, as data: what a careless or hostile producer can put on our topics.

Each entry is the raw key and value bytes a consumer meets, the kind of topic it is on and the
reason code (`kafkatrade.models.Reason`) it must be refused with. `VALID` holds records that
must pass. The values are built from the DESIGN.md examples with one thing broken each, so an
entry tests one rule. Far-future times are in the JSON: Kafka 4 refuses a record *timestamp*
more than an hour ahead, so that is how such a time really arrives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from kafka.errors import KafkaError
from kafka.serializer import Serializer

from kafkatrade.config import Settings
from kafkatrade.kafka import clients
from kafkatrade.models import MAX_RECORD_BYTES, Reason, RecordKind

QUOTE = {
    "symbol": "AAPL",
    "price": 189.5,
    "volume": 123400,
    "timestamp": "2024-05-01T14:30:00Z",
    "source": "replay",
}
ORDER = {
    "order_id": "AAPL:sma_trend:2024-05-01T14:30:00Z:BUY",
    "symbol": "AAPL",
    "side": "BUY",
    "quantity": 52,
    "price": 189.5,
    "timestamp": "2024-05-01T14:30:00Z",
    "strategy": "sma_trend",
    "quote_timestamp": "2024-05-01T14:30:00Z",
}
DROP = object()  # a field value meaning "leave the field out"


def _json(template: dict, changes: dict) -> bytes:
    document = {k: v for k, v in (template | changes).items() if v is not DROP}
    return json.dumps(document).encode()  # json.dumps writes NaN and Infinity as bare words


def quote(**changes: object) -> bytes:
    return _json(QUOTE, changes)


def order(**changes: object) -> bytes:
    return _json(ORDER, changes)


@dataclass(frozen=True)
class Malformed:
    name: str
    kind: RecordKind
    key: bytes | None
    value: bytes | None
    reason: Reason


AAPL = b"AAPL"
M = Malformed
T = Reason.TIMESTAMP

CORPUS: list[Malformed] = [
    # bytes that are not a record at all
    M("binary_garbage", "quotes", AAPL, b"\x00\x9f\x92\x96\xff\xfe\x80", Reason.NOT_UTF8),
    M("latin1_text", "quotes", AAPL, '{"source": "café"}'.encode("latin-1"), Reason.NOT_UTF8),
    M("empty_value", "quotes", AAPL, b"", Reason.NOT_JSON),
    M("truncated_json", "quotes", AAPL, quote()[:30], Reason.NOT_JSON),
    M("plain_text", "quotes", AAPL, b"AAPL 189.5", Reason.NOT_JSON),
    M("deep_nesting", "quotes", AAPL, b"[" * 60_000, Reason.NOT_JSON),
    M("json_array", "quotes", AAPL, b"[189.5, 123400]", Reason.NOT_OBJECT),
    M("json_string", "quotes", AAPL, b'"AAPL"', Reason.NOT_OBJECT),
    M("json_null", "orders", AAPL, b"null", Reason.NOT_OBJECT),
    M("huge_value", "quotes", AAPL, quote(source="x" * MAX_RECORD_BYTES), Reason.TOO_LARGE),
    M("near_broker_limit", "quotes", AAPL, quote(source="x" * 1_000_000), Reason.TOO_LARGE),
    M("tombstone_quote", "quotes", AAPL, None, Reason.TOMBSTONE),
    M("tombstone_without_key", "quotes", None, None, Reason.TOMBSTONE),
    M("tombstone_order", "orders", AAPL, None, Reason.TOMBSTONE),
    # fields missing or of the wrong JSON type
    M("no_price", "quotes", AAPL, quote(price=DROP), Reason.MISSING_FIELD),
    M("no_symbol", "quotes", AAPL, quote(symbol=DROP), Reason.MISSING_FIELD),
    M("no_timestamp", "quotes", AAPL, quote(timestamp=DROP), Reason.MISSING_FIELD),
    M("empty_object", "quotes", AAPL, b"{}", Reason.MISSING_FIELD),
    M("order_no_quote_time", "orders", AAPL, order(quote_timestamp=DROP), Reason.MISSING_FIELD),
    M("price_as_string", "quotes", AAPL, quote(price="189.5"), Reason.WRONG_TYPE),
    M("price_as_bool", "quotes", AAPL, quote(price=True), Reason.WRONG_TYPE),
    M("volume_as_string", "quotes", AAPL, quote(volume="123400"), Reason.WRONG_TYPE),
    M("symbol_as_number", "quotes", AAPL, quote(symbol=42), Reason.WRONG_TYPE),
    M("timestamp_epoch_ms", "quotes", AAPL, quote(timestamp=1714573800000), Reason.WRONG_TYPE),
    M("source_as_object", "quotes", AAPL, quote(source={"a": 1}), Reason.WRONG_TYPE),
    M("quantity_fraction", "orders", AAPL, order(quantity=52.5), Reason.WRONG_TYPE),
    M("order_id_as_number", "orders", AAPL, order(order_id=7), Reason.WRONG_TYPE),
    M("lone_surrogate", "quotes", AAPL, quote(source="\ud800"), Reason.NOT_UTF8),
    # prices
    M("price_nan", "quotes", AAPL, quote(price=float("nan")), Reason.PRICE),
    M("price_infinity", "quotes", AAPL, quote(price=float("inf")), Reason.PRICE),
    M("price_minus_infinity", "quotes", AAPL, quote(price=float("-inf")), Reason.PRICE),
    M("price_overflow", "quotes", AAPL, quote()[:-1] + b', "price": 1e999}', Reason.PRICE),
    M("price_huge_integer", "quotes", AAPL, quote(price=10**400), Reason.PRICE),
    M("price_zero", "quotes", AAPL, quote(price=0), Reason.PRICE),
    M("price_negative", "quotes", AAPL, quote(price=-189.5), Reason.PRICE),
    M("bar_low_negative", "quotes", AAPL, quote(low=-1.0), Reason.PRICE),
    M("order_price_nan", "orders", AAPL, order(price=float("nan")), Reason.PRICE),
    # volumes
    M("volume_negative", "quotes", AAPL, quote(volume=-5), Reason.VOLUME),
    M("volume_nan", "quotes", AAPL, quote(volume=float("nan")), Reason.VOLUME),
    # symbols
    M("symbol_lower_case", "quotes", b"aapl", quote(symbol="aapl"), Reason.SYMBOL),
    M("symbol_injection", "quotes", b"AAPL;DROP", quote(symbol="AAPL;DROP"), Reason.SYMBOL),
    M("symbol_too_long", "quotes", b"X" * 17, quote(symbol="X" * 17), Reason.SYMBOL),
    M("symbol_empty", "orders", b"", order(symbol=""), Reason.SYMBOL),
    # timestamps
    M("timestamp_epoch_zero", "quotes", AAPL, quote(timestamp="1970-01-01T00:00:00Z"), T),
    M("timestamp_1970_bound", "quotes", AAPL, quote(timestamp="1970-01-02T00:00:00Z"), T),
    M("timestamp_year_2999", "quotes", AAPL, quote(timestamp="2999-01-01T00:00:00Z"), T),
    M("timestamp_no_zone", "quotes", AAPL, quote(timestamp="2024-05-01T14:30:00"), T),
    M("timestamp_words", "quotes", AAPL, quote(timestamp="yesterday"), T),
    M("timestamp_before_year_1", "quotes", AAPL, quote(timestamp="0001-01-01T00:00:00+01:00"), T),
    M("order_quote_time_1970", "orders", AAPL, order(quote_timestamp="1970-01-01T00:00:00Z"), T),
    # order rules
    M("side_hold", "orders", AAPL, order(side="HOLD"), Reason.SIDE),
    M("side_lower_case", "orders", AAPL, order(side="buy"), Reason.SIDE),
    M("quantity_zero", "orders", AAPL, order(quantity=0), Reason.QUANTITY),
    M("quantity_negative", "orders", AAPL, order(quantity=-52), Reason.QUANTITY),
    M("quantity_beyond_int64", "orders", AAPL, order(quantity=2**64), Reason.QUANTITY),
    # keys
    M("key_missing", "quotes", None, quote(), Reason.KEY),
    M("key_other_symbol", "quotes", b"MSFT", quote(), Reason.KEY),
    M("key_not_utf8", "quotes", b"\xffAAPL", quote(), Reason.KEY),
    M("key_lower_case", "orders", b"aapl", order(), Reason.KEY),
    # the Stocks topic: key = value = symbol
    M("stock_no_key", "stocks", None, b"AAPL", Reason.KEY),
    M("stock_value_differs", "stocks", AAPL, b"MSFT", Reason.KEY),
    M("stock_value_newline", "stocks", AAPL, b"AAPL\n", Reason.KEY),
    M("stock_lower_case", "stocks", b"aapl", b"aapl", Reason.SYMBOL),
    M("stock_tombstone_bad_key", "stocks", b"not a symbol", None, Reason.SYMBOL),
    M("stock_value_not_utf8", "stocks", AAPL, b"\xff", Reason.NOT_UTF8),
    M("stock_huge_value", "stocks", AAPL, b"A" * (MAX_RECORD_BYTES + 1), Reason.TOO_LARGE),
]

# (kind, key, value): records every consumer must accept.
VALID: list[tuple[RecordKind, bytes | None, bytes | None]] = [
    ("quotes", AAPL, quote()),
    ("quotes", AAPL, quote(volume=DROP, source=DROP)),
    ("quotes", b"^GSPC", quote(symbol="^GSPC", open=9.0, high=11.0, low=8.5, close=10.0)),
    ("quotes", b"BRK.B", quote(symbol="BRK.B", timestamp="1970-01-02T00:00:00.001Z")),
    ("quotes", AAPL, quote(timestamp="2024-05-01T16:30:00+02:00", extra={"ignored": True})),
    ("orders", AAPL, order()),
    ("orders", b"RDS-A", order(symbol="RDS-A", side="SELL", quantity=1)),
    ("stocks", AAPL, b"AAPL"),
    ("stocks", b"^IXIC", None),  # a tombstone removes the symbol
]


class RawKey(Serializer):
    """Keys as given, where `NO_KEY` is a null key even with a null value: kafka-python refuses
    such a record, but a Java producer sends it, so a consumer must expect it."""

    NO_KEY = object()

    def serialize(self, topic, headers, data):
        return None if data is self.NO_KEY else data


Position = tuple[str, int, int]  # topic, partition, offset


def produce(
    settings: Settings, entries: list[Malformed]
) -> tuple[dict[Position, Malformed], dict[str, KafkaError]]:
    """Produces the entries one by one straight onto the settings' topic of their kind.

    Returns where each went, and the names of those the broker itself refused (a keyless
    record on the compacted `Stocks`, say) with its error: those never reach a consumer.
    """
    topic_of = {
        "stocks": settings.stocks_topic,
        "quotes": settings.quotes_topic,
        "orders": settings.orders_topic,
    }
    placed: dict[Position, Malformed] = {}
    refused: dict[str, KafkaError] = {}
    producer = clients.producer(settings, key_serializer=RawKey())
    try:
        for entry in entries:
            key = RawKey.NO_KEY if entry.key is None else entry.key
            try:
                meta = producer.send(topic_of[entry.kind], key=key, value=entry.value).get(30)
            except KafkaError as error:
                refused[entry.name] = error
                producer.close()  # a refused batch leaves the producer failed
                producer = clients.producer(settings, key_serializer=RawKey())
                continue
            placed[(meta.topic, meta.partition, meta.offset)] = entry
        return placed, refused
    finally:
        producer.close()
