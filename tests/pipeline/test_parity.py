"""Parity: the orders of a live `kafkatrade run` (read from `Orders`) equal, field by field, those
of `kafkatrade backtest` over the same data, for every strategy enabled; and the run ends by
writing its report."""

from __future__ import annotations

import pytest
from PIL import Image

from kafkatrade.backtest import QuoteSource, backtest
from kafkatrade.db import mongo
from tests.support import kafkatrade, read_orders

pytestmark = pytest.mark.stack

# Every strategy of the registry, one with parameters of its own.
STRATEGIES = (
    "sma_trend,sma_reversion,ema_cross:fast=5:slow=20,rsi_reversion,macd_signal,bollinger_reversion"
)


def test_live_orders_equal_the_backtest_and_the_run_writes_its_report(isolated, tmp_path):
    settings = isolated.replace(strategies=STRATEGIES)
    report_dir = tmp_path / "report"
    finished = kafkatrade(
        "run",
        "--rate",
        "0",
        "--timeout",
        "300",
        "--summary",
        str(tmp_path / "run-summary.json"),
        "--report",
        str(report_dir),
        settings=settings,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    try:
        live = sorted(tuple(order.to_dict().items()) for order in read_orders(settings))
        replayed = backtest(settings, QuoteSource("data"))  # strategies from the settings
        assert replayed.strategies == STRATEGIES.split(",")
        assert {o.strategy for o in replayed.orders} == set(replayed.strategies)
        assert live == sorted(tuple(order.to_dict().items()) for order in replayed.orders)
        assert len(live) > 1000
    finally:
        db = mongo.connect(settings)
        db.client.drop_database(settings.mongo_db)
        db.client.close()

    assert f"report of the run in {report_dir / 'report.md'}" in finished.stdout
    text = (report_dir / "report.md").read_text()
    assert f"- orders: {len(live)}" in text
    charts = sorted(report_dir.glob("*.png"))
    assert len(charts) == 12  # 11 symbols and the total
    for chart in charts:
        with Image.open(chart) as image:
            image.verify()
