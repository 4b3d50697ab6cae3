"""Quote and order JSON: the DESIGN.md format, round trips, and what validation refuses."""

import json
import math
from datetime import UTC, datetime

import pytest

from kafkatrade.models import InvalidRecord, Order, Quote, order_id, validate_symbol

WHEN = datetime(2024, 5, 1, 14, 30, tzinfo=UTC)


def test_quote_json_is_the_design_format():
    quote = Quote("AAPL", 189.5, 123400, WHEN, "replay")
    assert json.loads(quote.to_json()) == {
        "symbol": "AAPL",
        "price": 189.5,
        "volume": 123400,
        "timestamp": "2024-05-01T14:30:00Z",
        "source": "replay",
    }
    assert Quote.from_json(quote.to_json()) == quote


def test_quote_keeps_bar_fields_when_given():
    quote = Quote("^GSPC", 10.0, 0, WHEN, "replay", open=9.0, high=11.0, low=8.5, close=10.0)
    assert Quote.from_json(quote.to_json()) == quote


def test_order_round_trip_and_deterministic_id():
    order = Order(
        order_id("BRK.B", "sma_trend", WHEN, "BUY"),
        "BRK.B",
        "BUY",
        52,
        189.5,
        WHEN,
        "sma_trend",
        WHEN,
    )
    assert order.order_id == "BRK.B:sma_trend:2024-05-01T14:30:00Z:BUY"
    assert Order.from_json(order.to_json()) == order


@pytest.mark.parametrize("symbol", ["AAPL", "^GSPC", "BRK.B", "RDS-A", "7203"])
def test_tickers_accepted(symbol):
    assert validate_symbol(symbol) == symbol


@pytest.mark.parametrize("symbol", ["aapl", "", "A B", "AAPL;", "^", "A..B", "X" * 17, None])
def test_bad_symbols_refused(symbol):
    with pytest.raises(InvalidRecord):
        validate_symbol(symbol)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"symbol": "AAPL", "price": float("nan"), "timestamp": "2024-05-01T14:30:00Z"}, "finite"),
        ({"symbol": "AAPL", "price": -1, "timestamp": "2024-05-01T14:30:00Z"}, "positive"),
        ({"symbol": "AAPL", "price": "1", "timestamp": "2024-05-01T14:30:00Z"}, "number"),
        ({"symbol": "AAPL", "price": 1, "timestamp": "2024-05-01 14:30"}, "time zone"),
        ({"symbol": "AAPL", "price": 1}, "without timestamp"),
        (
            {"symbol": "AAPL", "price": 1, "volume": -5, "timestamp": "2024-05-01T14:30:00Z"},
            "negative",
        ),
    ],
)
def test_invalid_quotes_name_their_reason(document, reason):
    raw = json.dumps(document)  # json writes NaN, which a careless producer could send
    with pytest.raises(InvalidRecord, match=reason):
        Quote.from_json(raw)


def test_garbage_is_not_a_quote():
    for raw in (b"\xff\xfe", b"[]", b"", b"{"):
        with pytest.raises(InvalidRecord):
            Quote.from_json(raw)


def test_nan_never_leaves_as_json():
    quote = Quote("AAPL", math.inf, 0, WHEN, "x")
    with pytest.raises(ValueError):
        quote.to_json()
