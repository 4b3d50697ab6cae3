"""A symbol's state survives a snapshot: an engine restored at any point trades on exactly as
the engine that was never interrupted (the bot's crash and rebalance guarantee)."""

import pickle

import pytest

from kafkatrade.marketdata import load
from kafkatrade.trading.bars import window_start
from kafkatrade.trading.engine import TradingEngine
from kafkatrade.trading.snapshot import SnapshotMismatch

ALL = [
    "sma_trend",
    "sma_reversion",
    "ema_cross:fast=5:slow=20",
    "rsi_reversion",
    "macd_signal",
    "bollinger_reversion",
]


def _engine(bar: str = "tick") -> TradingEngine:
    return TradingEngine(ALL, bar=bar, stop_loss_pct=5, take_profit_pct=20)


@pytest.mark.parametrize("bar", ["tick", "1d"])
def test_restored_engine_makes_the_orders_of_the_uninterrupted_one(bar):
    symbol = "GOOG"
    quotes = [b.to_quote(symbol, "test") for b in load()[symbol]]
    whole = _engine(bar)
    want = [[o.to_dict() for o in whole.on_quote(q)] for q in quotes]
    assert sum(map(len, want)) > 50  # the series trades: the comparison is not vacuous

    # Crash after every 97th quote: a new engine restored from the last snapshot goes on.
    engine = _engine(bar)
    got = []
    for i, quote in enumerate(quotes):
        got.append([o.to_dict() for o in engine.on_quote(quote)])
        if i % 97 == 96:
            restored = _engine(bar)
            restored.restore(symbol, engine.snapshot(symbol))
            engine = restored
    assert got == want


def test_a_snapshot_of_other_settings_is_refused():
    engine = _engine()
    engine.on_quote(load()["GOOG"][0].to_quote("GOOG", "test"))
    data = engine.snapshot("GOOG")
    for other in (
        TradingEngine(["sma_trend"]),
        TradingEngine(ALL, bar="1d", stop_loss_pct=5, take_profit_pct=20),
        TradingEngine(ALL, notional=500, stop_loss_pct=5, take_profit_pct=20),
    ):
        with pytest.raises(SnapshotMismatch, match="made with"):
            other.restore("GOOG", data)


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_snapshot_can_set_state_but_never_run_code(capsys):
    with pytest.raises(SnapshotMismatch, match=r"builtins\.print is not part"):
        _engine().restore("GOOG", pickle.dumps(_Evil()))
    assert capsys.readouterr().out == ""
    with pytest.raises(SnapshotMismatch, match="unreadable"):
        _engine().restore("GOOG", b"\x00garbage")


class _CallsOurs:
    def __reduce__(self):
        return (window_start, (None, None))


def test_a_snapshot_cannot_call_the_package_s_own_functions():
    # A function of a trading module is still a function: refused, never called.
    with pytest.raises(SnapshotMismatch, match=r"bars\.window_start is not part"):
        _engine().restore("GOOG", pickle.dumps(_CallsOurs()))
