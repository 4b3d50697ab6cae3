"""The records on the topics (DESIGN.md): symbols, quotes and orders, and their JSON form.

Parsing validates, so a service never acts on a record it does not understand: a bad record
raises `InvalidRecord` with a stable reason code and a message, and the caller decides what to
do with it (the services send it to the topic's dead-letter topic, `kafka/dlq.py`).
`parse_record` checks a whole consumed record, key and size included; every consumer uses it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal, overload

SYMBOL_PATTERN = re.compile(r"^\^?[A-Z0-9]+(?:[.\-][A-Z0-9]+)*$")
MAX_SYMBOL_LENGTH = 16

# A quote is about 150 bytes of JSON and an order about 250: 64 KiB leaves a hundredfold
# headroom for bar fields and long sources, and keeps a dead letter (the original bytes plus
# its error headers) far below Kafka's default max.message.bytes of 1 MiB, so the dead-letter
# topic always takes what is refused. Larger values are refused before they are parsed.
MAX_RECORD_BYTES = 64 * 1024

# Event times become Kafka record timestamps (epoch ms): nothing before the epoch, with a day
# of margin against time-zone slips and "0 means unset" values. Kafka 4 refuses a record
# timestamp more than an hour ahead of the broker's clock (log.message.timestamp.after.max.ms),
# so an event time later than that could not be the timestamp of a record.
EARLIEST_TIME = datetime(1970, 1, 2, tzinfo=UTC)
MAX_AHEAD = timedelta(hours=1)
MAX_QUANTITY = 2**63 - 1  # BSON's int64

Side = Literal["BUY", "SELL"]
RecordKind = Literal["stocks", "quotes", "orders"]


class Reason(StrEnum):
    """Why a record is invalid: short and stable, for metric labels and dead-letter headers.

    `wrong_type` is a field of the wrong JSON type; the codes named after a field mean a value
    of the right type that breaks the field's rule.
    """

    TOMBSTONE = "tombstone"  # a null value where a quote or an order is expected
    TOO_LARGE = "too_large"  # value longer than MAX_RECORD_BYTES
    KEY = "key"  # key missing, not UTF-8, or not the record's symbol
    NOT_UTF8 = "not_utf8"  # value bytes, or a text field, not valid UTF-8
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"  # JSON, but not an object
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    SYMBOL = "symbol"
    PRICE = "price"  # price, open, high, low, close: finite and positive
    VOLUME = "volume"  # finite and not negative
    TIMESTAMP = "timestamp"  # ISO 8601 with a zone, after 1970-01-02, at most 1 h ahead
    SIDE = "side"
    QUANTITY = "quantity"
    DB_REJECTED = "db_rejected"  # valid, but the database refused the document for good
    INVALID = "invalid_record"  # raised without a more precise reason (e.g. provider data)


class InvalidRecord(ValueError):
    """A record that breaks the contract of its topic; `reason` says which rule, in one code."""

    def __init__(self, message: str, reason: Reason = Reason.INVALID) -> None:
        super().__init__(message)
        self.reason = reason


def _show(value: object) -> str:
    """A value as it goes into a message: its repr, cut short (a record can be 64 KiB)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def validate_symbol(symbol: object) -> str:
    """The symbol itself when it is an upper-case ticker (`AAPL`, `^GSPC`, `BRK.B`, `RDS-A`)."""
    if not isinstance(symbol, str):
        raise InvalidRecord(f"symbol must be a string, not {_show(symbol)}", Reason.WRONG_TYPE)
    if len(symbol) > MAX_SYMBOL_LENGTH or not SYMBOL_PATTERN.match(symbol):
        raise InvalidRecord(
            f"invalid symbol {_show(symbol)}: expected an upper-case ticker such as AAPL, "
            "^GSPC or BRK.B",
            Reason.SYMBOL,
        )
    return symbol


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, milliseconds only when there are some."""
    moment = moment.astimezone(UTC)
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def parse_time(text: object) -> datetime:
    """An ISO 8601 time with a zone, in UTC."""
    if not isinstance(text, str):
        raise InvalidRecord(
            f"timestamp must be an ISO 8601 string, not {_show(text)}", Reason.WRONG_TYPE
        )
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRecord(f"timestamp {_show(text)} is not ISO 8601", Reason.TIMESTAMP) from None
    if moment.tzinfo is None:
        raise InvalidRecord(f"timestamp {_show(text)} has no time zone", Reason.TIMESTAMP)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise InvalidRecord(f"timestamp {_show(text)} is out of range", Reason.TIMESTAMP) from None


def event_time(text: object, now: datetime | None = None) -> datetime:
    """`parse_time`, within the bounds a record timestamp can have (see EARLIEST_TIME)."""
    moment = parse_time(text)
    latest = (now or datetime.now(UTC)) + MAX_AHEAD
    if moment <= EARLIEST_TIME or moment > latest:
        raise InvalidRecord(
            f"timestamp {_show(text)} is not after {format_time(EARLIEST_TIME)} and before "
            f"{format_time(latest)}",
            Reason.TIMESTAMP,
        )
    return moment


def epoch_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def from_epoch_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _finite(value: object, name: str, reason: Reason, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRecord(f"{name} must be a number, not {_show(value)}", Reason.WRONG_TYPE)
    try:
        number = float(value)
    except OverflowError:  # an integer beyond a double
        number = math.inf
    if not math.isfinite(number):
        raise InvalidRecord(f"{name} must be finite, not {_show(value)}", reason)
    if positive and number <= 0:
        raise InvalidRecord(f"{name} must be positive, not {_show(value)}", reason)
    return number


def _text(document: dict, name: str, default: str | None = None) -> str:
    """A string field; UTF-8 encodable, as BSON needs (JSON escapes can make lone surrogates)."""
    value = document.get(name, default)
    if not isinstance(value, str):
        raise InvalidRecord(f"{name} must be a string, not {_show(value)}", Reason.WRONG_TYPE)
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidRecord(f"{name} is not valid Unicode", Reason.NOT_UTF8) from None
    return value


def _require(document: dict, names: tuple[str, ...], what: str) -> None:
    missing = [name for name in names if name not in document]
    if missing:
        raise InvalidRecord(f"{what} without {', '.join(missing)}", Reason.MISSING_FIELD)


def _decode(raw: bytes | str) -> dict:
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidRecord(f"not UTF-8: {error}", Reason.NOT_UTF8) from None
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
        raise InvalidRecord(f"not JSON: {str(error)[:80]}", Reason.NOT_JSON) from None
    if not isinstance(document, dict):
        raise InvalidRecord(f"not a JSON object but {type(document).__name__}", Reason.NOT_OBJECT)
    return document


def _encode(document: dict) -> bytes:
    # allow_nan=False: NaN is not JSON, and FerretDB would refuse it downstream.
    return json.dumps(document, allow_nan=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    price: float
    volume: float
    timestamp: datetime
    source: str
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None

    def to_dict(self) -> dict:
        document = asdict(self)
        document["timestamp"] = format_time(self.timestamp)
        return {key: value for key, value in document.items() if value is not None}

    def to_json(self) -> bytes:
        return _encode(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | str, *, now: datetime | None = None) -> Quote:
        return cls.from_document(_decode(raw), now=now)

    @classmethod
    def from_document(cls, document: dict, *, now: datetime | None = None) -> Quote:
        """The quote of a decoded JSON object; `now` (default: the clock) bounds its time."""
        _require(document, ("symbol", "price", "timestamp"), "quote")
        volume = _finite(document.get("volume", 0), "volume", Reason.VOLUME)
        if volume < 0:
            raise InvalidRecord(f"volume must not be negative, not {volume}", Reason.VOLUME)
        bar = {
            name: _finite(document[name], name, Reason.PRICE, positive=True)
            for name in ("open", "high", "low", "close")
            if document.get(name) is not None
        }
        return cls(
            symbol=validate_symbol(document["symbol"]),
            price=_finite(document["price"], "price", Reason.PRICE, positive=True),
            volume=volume,
            timestamp=event_time(document["timestamp"], now),
            source=_text(document, "source", ""),
            **bar,
        )


def order_id(symbol: str, strategy: str, bar_time: datetime, side: Side) -> str:
    """Deterministic id: the same bar can never make two different orders."""
    return f"{symbol}:{strategy}:{format_time(bar_time)}:{side}"


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    symbol: str
    side: Side
    quantity: int
    price: float
    timestamp: datetime
    strategy: str
    quote_timestamp: datetime

    def to_dict(self) -> dict:
        document = asdict(self)
        document["timestamp"] = format_time(self.timestamp)
        document["quote_timestamp"] = format_time(self.quote_timestamp)
        return document

    def to_json(self) -> bytes:
        return _encode(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | str, *, now: datetime | None = None) -> Order:
        return cls.from_document(_decode(raw), now=now)

    @classmethod
    def from_document(cls, document: dict, *, now: datetime | None = None) -> Order:
        """The order of a decoded JSON object; `now` (default: the clock) bounds its times."""
        _require(document, tuple(cls.__dataclass_fields__), "order")
        side = _text(document, "side")
        if side not in ("BUY", "SELL"):
            raise InvalidRecord(f"side must be BUY or SELL, not {_show(side)}", Reason.SIDE)
        quantity = document["quantity"]
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidRecord(
                f"quantity must be an integer, not {_show(quantity)}", Reason.WRONG_TYPE
            )
        if not 0 < quantity <= MAX_QUANTITY:
            raise InvalidRecord(
                f"quantity must be positive and fit in 64 bits, not {_show(quantity)}",
                Reason.QUANTITY,
            )
        return cls(
            order_id=_text(document, "order_id"),
            symbol=validate_symbol(document["symbol"]),
            side=side,
            quantity=quantity,
            price=_finite(document["price"], "price", Reason.PRICE, positive=True),
            timestamp=event_time(document["timestamp"], now),
            strategy=_text(document, "strategy"),
            quote_timestamp=event_time(document["quote_timestamp"], now),
        )


def _key_text(key: bytes | None) -> str:
    if key is None:
        raise InvalidRecord("record without a key (the key is the symbol)", Reason.KEY)
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRecord(f"key {_show(key)} is not UTF-8", Reason.KEY) from None


def _check_size(value: bytes) -> None:
    if len(value) > MAX_RECORD_BYTES:
        raise InvalidRecord(
            f"value of {len(value)} bytes, more than the {MAX_RECORD_BYTES} allowed",
            Reason.TOO_LARGE,
        )


def _stock_symbol(key: bytes | None, value: bytes | None) -> str:
    """A `Stocks` record: key = value = the symbol; a null value (tombstone) removes it."""
    if value is not None:
        _check_size(value)
    symbol = _key_text(key)
    text = None
    if value is not None:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidRecord(f"not UTF-8: {error}", Reason.NOT_UTF8) from None
    validate_symbol(symbol)
    if text is not None and text != symbol:
        raise InvalidRecord(f"value {_show(text)} differs from the key {symbol!r}", Reason.KEY)
    return symbol


@overload
def parse_record(
    kind: Literal["quotes"], key: bytes | None, value: bytes | None, *, now: datetime | None = ...
) -> Quote: ...
@overload
def parse_record(
    kind: Literal["orders"], key: bytes | None, value: bytes | None, *, now: datetime | None = ...
) -> Order: ...
@overload
def parse_record(
    kind: Literal["stocks"], key: bytes | None, value: bytes | None, *, now: datetime | None = ...
) -> str: ...
def parse_record(
    kind: RecordKind, key: bytes | None, value: bytes | None, *, now: datetime | None = None
) -> Quote | Order | str:
    """The content of a consumed record of a topic of `kind`, or InvalidRecord with the reason.

    Checks, in this order: tombstone (legal on `stocks` only), size, key (present, UTF-8),
    value (UTF-8, JSON object, fields), and that the key is the record's symbol. A `stocks`
    record gives its symbol; whether it adds or removes the symbol is `value is None`.
    `now` (default: the clock) bounds the event times, for tests.
    """
    if kind == "stocks":
        return _stock_symbol(key, value)
    if value is None:
        raise InvalidRecord(f"tombstone (null value) on the {kind} topic", Reason.TOMBSTONE)
    _check_size(value)
    symbol = _key_text(key)
    document = _decode(value)
    parsed = (
        Quote.from_document(document, now=now)
        if kind == "quotes"
        else Order.from_document(document, now=now)
    )
    if parsed.symbol != symbol:
        raise InvalidRecord(
            f"key {_show(symbol)} is not the record's symbol {parsed.symbol!r}", Reason.KEY
        )
    return parsed
