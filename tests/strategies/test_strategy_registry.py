"""Strategy specs: parsing, validation in one line, canonical names, the engine's tags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kafkatrade.models import Quote
from kafkatrade.strategies import REGISTRY, StrategyError, UnknownStrategy, canonical, check_names
from kafkatrade.trading.engine import TradingEngine

START = datetime(2024, 5, 1, 14, 30, tzinfo=UTC)


def test_the_six_strategies_are_registered():
    assert list(REGISTRY) == [
        "sma_trend",
        "sma_reversion",
        "ema_cross",
        "rsi_reversion",
        "macd_signal",
        "bollinger_reversion",
    ]


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("sma_trend", "sma_trend"),
        ("sma_trend:window=10", "sma_trend"),
        ("sma_reversion:window=20", "sma_reversion:window=20"),
        ("ema_cross:fast=5:slow=20", "ema_cross:fast=5:slow=20"),
        ("ema_cross:slow=20:fast=5", "ema_cross:fast=5:slow=20"),
        (" ema_cross : fast = 5 ", "ema_cross:fast=5:slow=26"),
        ("rsi_reversion:low=25", "rsi_reversion:period=14:low=25:high=70"),
        ("rsi_reversion:low=30.0", "rsi_reversion"),
        ("macd_signal:signal=5", "macd_signal:fast=12:slow=26:signal=5"),
        ("bollinger_reversion:k=2.5", "bollinger_reversion:period=20:k=2.5"),
        ("bollinger_reversion:k=2", "bollinger_reversion"),
    ],
)
def test_canonical_name_is_the_bare_name_with_default_parameters_else_every_parameter(spec, name):
    assert canonical(spec) == name


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["sma_trnd"], "unknown strategy 'sma_trnd'; known strategies: sma_trend, "),
        ([], "no strategy given"),
        (["sma_trend", "sma_trend:window=10"], "strategy 'sma_trend' is given twice"),
        (["ema_cross:fats=5"], "unknown parameter 'fats'; ema_cross takes fast, slow"),
        (["ema_cross:fast=five"], "fast must be an integer, not 'five'"),
        (["ema_cross:fast=20:slow=20"], "fast (20) must be less than slow (20)"),
        (["macd_signal:fast=30"], "fast (30) must be less than slow (26)"),
        (["rsi_reversion:low=70"], "low (70) must be less than high (70)"),
        (["rsi_reversion:high=100"], "high must be below 100, not 100"),
        (["rsi_reversion:low=0"], "low must be above 0, not 0"),
        (["sma_trend:window=1"], "window must be at least 2, not 1"),
        (["sma_trend:window=2.5"], "window must be an integer, not '2.5'"),
        (["bollinger_reversion:k=0"], "k must be above 0, not 0"),
        (["bollinger_reversion:k=inf"], "k must be finite"),
        (["ema_cross:fast"], "expected param=value after ':', not 'fast'"),
        (["ema_cross:fast=5:fast=6"], "parameter 'fast' given twice"),
    ],
)
def test_a_bad_spec_is_refused_in_one_line_that_names_the_mistake(specs, message):
    with pytest.raises(StrategyError) as error:
        check_names(specs)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_every_strategy_error_is_the_unknown_strategy_the_cli_catches():
    assert UnknownStrategy is StrategyError
    assert issubclass(StrategyError, ValueError)
    with pytest.raises(StrategyError):
        TradingEngine(["ema_cross:fast=30:slow=20"])


def _quotes(symbol: str, prices: list[float]) -> list[Quote]:
    return [
        Quote(symbol, p, 100, START + timedelta(minutes=i), "test") for i, p in enumerate(prices)
    ]


def test_two_settings_of_one_strategy_keep_their_own_positions_and_tags():
    # ema_cross:fast=2:slow=3 crosses up on bar 4 (see test_strategy_signals); the default
    # ema_cross is still warming up; sma_trend:window=3 buys as soon as the close > SMA(3).
    engine = TradingEngine(["ema_cross", "ema_cross:slow=3:fast=2", "sma_trend:window=3"])
    orders = [o for q in _quotes("AAPL", [10, 10, 10, 9, 12]) for o in engine.on_quote(q)]
    assert [(o.strategy, o.side, o.quantity, o.order_id) for o in orders] == [
        (
            "ema_cross:fast=2:slow=3",
            "BUY",
            833,
            "AAPL:ema_cross:fast=2:slow=3:2024-05-01T14:34:00Z:BUY",
        ),
        ("sma_trend:window=3", "BUY", 833, "AAPL:sma_trend:window=3:2024-05-01T14:34:00Z:BUY"),
    ]
    assert engine.names == ["ema_cross", "ema_cross:fast=2:slow=3", "sma_trend:window=3"]
