"""`kafkatrade backtest` over data files: the bot's own engine, its orders and their figures."""

from __future__ import annotations

import json

import pytest

from kafkatrade.backtest import QuoteSource, backtest
from kafkatrade.config import Settings
from kafkatrade.marketdata import load
from kafkatrade.trading.engine import TradingEngine
from tests.reference import expected_orders
from tests.support import kafkatrade

SETTINGS = Settings.load(environ={})


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """Two symbols, a long CSV: AAA rises then falls (one round trip), BBB only rises."""
    rows = ["timestamp,symbol,price"]
    aaa = [10.0] * 9 + [12.0, 13.0, 14.0, 9.0, 8.0, 8.5]
    bbb = [5.0 + index for index in range(12)]
    for symbol, closes in (("AAA", aaa), ("BBB", bbb)):
        rows += [f"2024-01-{day + 1:02d},{symbol},{close}" for day, close in enumerate(closes)]
    path = tmp_path_factory.mktemp("data") / "tiny.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_backtest_runs_the_engine_the_bot_runs():
    engine = TradingEngine.from_settings(SETTINGS.replace(strategies="sma_trend,sma_reversion"))
    assert isinstance(engine, TradingEngine)
    assert engine.strategy_names == ["sma_trend", "sma_reversion"]
    assert engine.notional == SETTINGS.order_notional
    # --strategy replaces the setting
    assert TradingEngine.from_settings(SETTINGS, ["sma_reversion"]).strategy_names == [
        "sma_reversion"
    ]


@pytest.mark.parametrize("strategy", ["sma_trend", "sma_reversion"])
def test_backtest_over_the_default_data_equals_the_reference(strategy):
    evaluation = backtest(SETTINGS, QuoteSource(), [strategy])
    got = {}
    for order in evaluation.orders:
        got.setdefault(order.symbol, []).append(
            (order.timestamp, order.side, order.quantity, order.price, order.strategy)
        )
    want = {}
    for symbol, bars in load().items():
        rows = [
            (bars[index].timestamp, side, quantity, price, strategy)
            for index, side, quantity, price in expected_orders(
                [bar.close for bar in bars], strategy
            )
        ]
        if rows:
            want[symbol] = rows
    assert got == want
    assert evaluation.totals.orders == sum(len(rows) for rows in want.values())


def test_figures_of_a_hand_checked_series(tiny_data):
    evaluation = backtest(SETTINGS, QuoteSource("data", path=tiny_data), ["sma_trend"])
    # AAA: SMA(10) of bar 10 (index 9) is (9 x 10 + 12) / 10 = 10.2 < 12: BUY floor(10000 / 12)
    # = 833 @ 12. Bar 13 (index 12): SMA = (6 x 10 + 12 + 13 + 14 + 9) / 10 = 10.8 > 9: SELL
    # 833 @ 9, a loss of 833 x 3 = 2499.
    aaa = evaluation.symbols["AAA"]
    assert [(o.side, o.quantity, o.price) for o in evaluation.orders if o.symbol == "AAA"] == [
        ("BUY", 833, 12.0),
        ("SELL", 833, 9.0),
    ]
    assert aaa.trades == 1
    assert aaa.win_rate == 0
    assert aaa.realized_pnl == pytest.approx(-2499)
    assert aaa.return_ == pytest.approx(-0.2499)
    assert aaa.exposure == pytest.approx(3 / 15)  # at the closes of bars 10, 11, 12
    # peak 10000 + 833 x 2 = 11666 at bar 12, trough 10000 - 2499 = 7501 from bar 13 on
    assert aaa.max_drawdown == pytest.approx(833 * 5)
    # BBB rises 5, 6, ... 16: SMA(10) of bar 10 is 9.5 < 14: BUY floor(10000 / 14) = 714,
    # still open at 16
    bbb = evaluation.symbols["BBB"]
    assert bbb.trades == 0
    assert bbb.position == 714
    assert bbb.unrealized_pnl == pytest.approx(714 * 2)
    assert bbb.buy_and_hold_pnl == pytest.approx(2000 * 11)  # floor(10000 / 5) shares, +11
    assert evaluation.totals.realized_pnl == pytest.approx(-2499)
    assert evaluation.totals.unrealized_pnl == pytest.approx(1428)


def test_json_lists_every_order_and_the_figures(tiny_data):
    result = kafkatrade(
        "backtest",
        "--data",
        str(tiny_data),
        "--json",
        "--strategy",
        "sma_trend",
        "--strategy",
        "sma_reversion",
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    want = backtest(SETTINGS, QuoteSource("data", path=tiny_data), ["sma_trend", "sma_reversion"])
    assert len(document["orders"]) == len(want.orders) > 2
    assert [
        (o["symbol"], o["side"], o["quantity"], o["price"], o["timestamp"], o["strategy"])
        for o in document["orders"]
    ] == [
        (o.symbol, o.side, o.quantity, o.price, o.to_dict()["timestamp"], o.strategy)
        for o in want.orders
    ]
    assert document["strategies"] == ["sma_trend", "sma_reversion"]
    assert set(document["symbols"]) == {"AAA", "BBB"}
    for figures in [*document["symbols"].values(), document["totals"]]:
        assert {
            "trades",
            "win_rate",
            "realized_pnl",
            "unrealized_pnl",
            "return",
            "max_drawdown",
            "sharpe",
            "exposure",
            "buy_and_hold_return",
        } <= set(figures)
    assert "sharpe" in document["definitions"]


def test_table_shows_every_symbol_and_the_total(tiny_data):
    result = kafkatrade(
        "backtest", "--data", str(tiny_data), env={"KAFKATRADE_STRATEGIES": "sma_trend"}
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["symbol", "bars", "trades"]
    assert [line.split()[0] for line in lines[2:4]] == ["AAA", "BBB"]
    assert any(line.startswith("total") for line in lines)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--data", "no/such/file.csv"], ["no/such/file.csv"]),
        (["--strategy", "golden_cross"], ["unknown strategy 'golden_cross'"]),
    ],
)
def test_user_mistakes_end_in_one_line(args, words):
    result = kafkatrade("backtest", *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]


def test_sources_are_mutually_exclusive(tiny_data):
    result = kafkatrade("backtest", "--data", str(tiny_data), "--mongo")
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr
