"""The small helpers of kafkatrade.metrics, on the default registry the services expose."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY

from kafkatrade import __version__, metrics


def _sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_build_info_says_the_version():
    assert _sample("kafkatrade_build_info", version=__version__) == 1


def test_quote_ages_follow_the_symbols_given():
    now_ms = int(time.time() * 1000)
    metrics.set_quote_ages({"UNIT.A": now_ms - 60_000, "UNIT.B": now_ms - 5_000, "UNIT.C": 0})
    assert abs(_sample("kafkatrade_quote_age_seconds", symbol="UNIT.A") - 60) < 5
    assert abs(_sample("kafkatrade_quote_age_seconds", symbol="UNIT.B") - 5) < 5
    assert _sample("kafkatrade_quote_age_seconds", symbol="UNIT.C") is None  # no quote yet
    metrics.set_quote_ages({"UNIT.B": now_ms})  # A left this downloader
    assert _sample("kafkatrade_quote_age_seconds", symbol="UNIT.A") is None
    assert _sample("kafkatrade_quote_age_seconds", symbol="UNIT.B") is not None
    metrics.set_quote_ages({})


def test_received_header_round_trips_and_bad_or_missing_headers_give_none():
    key, value = metrics.received_header()
    assert key == "received_ms"
    assert abs(metrics.received_at([("other", b"1"), (key, value)]) - time.time()) < 5
    assert metrics.received_at([(key, b"not a number")]) is None
    assert metrics.received_at(None) is None


def test_quote_to_order_observes_only_orders_with_a_receive_time():
    before = _sample("kafkatrade_quote_to_order_seconds_count")
    metrics.observe_quote_to_order([time.time() - 0.2, None, time.time() - 0.02])
    assert _sample("kafkatrade_quote_to_order_seconds_count") == before + 2
    assert _sample("kafkatrade_quote_to_order_seconds_bucket", le="0.01") is not None


def test_a_service_series_exist_at_zero_from_its_start():
    metrics.start_service("unit", consumed=["Unit.Quotes"], produced=["Unit.Orders"])
    assert _sample("kafkatrade_messages_consumed_total", service="unit", topic="Unit.Quotes") == 0
    assert _sample("kafkatrade_messages_produced_total", service="unit", topic="Unit.Orders") == 0
    assert (
        _sample("kafkatrade_dlq_messages_total", topic="Unit.Quotes", reason="invalid_record") == 0
    )
    assert (
        _sample("kafkatrade_messages_consumed_created", service="unit", topic="Unit.Quotes") is None
    )
