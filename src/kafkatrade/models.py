"""The records on the topics (DESIGN.md): symbols, quotes and orders, and their JSON form.

Parsing validates, so a service never acts on a record it does not understand: a bad record
raises `InvalidRecord` with the reason, and the caller decides what to do with it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal

SYMBOL_PATTERN = re.compile(r"^\^?[A-Z0-9]+(?:[.\-][A-Z0-9]+)*$")
MAX_SYMBOL_LENGTH = 16

Side = Literal["BUY", "SELL"]


class InvalidRecord(ValueError):
    """A record that breaks the contract of its topic."""


def validate_symbol(symbol: str) -> str:
    """The symbol itself when it is an upper-case ticker (`AAPL`, `^GSPC`, `BRK.B`, `RDS-A`)."""
    if (
        not isinstance(symbol, str)
        or len(symbol) > MAX_SYMBOL_LENGTH
        or not SYMBOL_PATTERN.match(symbol)
    ):
        raise InvalidRecord(
            f"invalid symbol {symbol!r}: expected an upper-case ticker such as AAPL, ^GSPC or BRK.B"
        )
    return symbol


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, milliseconds only when there are some."""
    moment = moment.astimezone(UTC)
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def parse_time(text: object) -> datetime:
    if not isinstance(text, str):
        raise InvalidRecord(f"timestamp must be an ISO 8601 string, not {text!r}")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRecord(f"timestamp {text!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise InvalidRecord(f"timestamp {text!r} has no time zone")
    return moment.astimezone(UTC)


def epoch_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def from_epoch_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _finite(value: object, name: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRecord(f"{name} must be a number, not {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidRecord(f"{name} must be finite, not {value!r}")
    if positive and number <= 0:
        raise InvalidRecord(f"{name} must be positive, not {value!r}")
    return number


def _decode(raw: bytes | str) -> dict:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRecord(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidRecord("not a JSON object")
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
    def from_json(cls, raw: bytes | str) -> Quote:
        document = _decode(raw)
        for name in ("symbol", "price", "timestamp"):
            if name not in document:
                raise InvalidRecord(f"quote without {name}")
        volume = _finite(document.get("volume", 0), "volume")
        if volume < 0:
            raise InvalidRecord(f"volume must not be negative, not {volume}")
        bar = {
            name: _finite(document[name], name, positive=True)
            for name in ("open", "high", "low", "close")
            if document.get(name) is not None
        }
        return cls(
            symbol=validate_symbol(document["symbol"]),
            price=_finite(document["price"], "price", positive=True),
            volume=volume,
            timestamp=parse_time(document["timestamp"]),
            source=str(document.get("source", "")),
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
    def from_json(cls, raw: bytes | str) -> Order:
        document = _decode(raw)
        missing = [name for name in cls.__dataclass_fields__ if name not in document]
        if missing:
            raise InvalidRecord(f"order without {', '.join(missing)}")
        if document["side"] not in ("BUY", "SELL"):
            raise InvalidRecord(f"side must be BUY or SELL, not {document['side']!r}")
        quantity = document["quantity"]
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise InvalidRecord(f"quantity must be a positive integer, not {quantity!r}")
        return cls(
            order_id=str(document["order_id"]),
            symbol=validate_symbol(document["symbol"]),
            side=document["side"],
            quantity=quantity,
            price=_finite(document["price"], "price", positive=True),
            timestamp=parse_time(document["timestamp"]),
            strategy=str(document["strategy"]),
            quote_timestamp=parse_time(document["quote_timestamp"]),
        )
