"""`backtest --topic` and `--mongo` on the real stack give the orders of `--data` over the same
quotes; an empty topic or database is a one-line error."""

from __future__ import annotations

import pytest

from kafkatrade.backtest import QuoteSource, backtest
from kafkatrade.db import mongo
from kafkatrade.marketdata import load
from tests.support import kafkatrade, send_quotes

pytestmark = pytest.mark.stack

STRATEGIES = ["sma_trend", "sma_reversion"]


def order_rows(evaluation):
    return sorted(
        (o.order_id, o.symbol, o.side, o.quantity, o.price, o.timestamp, o.strategy)
        for o in evaluation.orders
    )


def test_topic_and_mongo_sources_trade_like_the_data_file(isolated):
    data = load()
    quotes = [bar.to_quote(symbol, "replay") for symbol, bars in data.items() for bar in bars]
    send_quotes(isolated, quotes)
    db = mongo.connect(isolated)
    try:
        mongo.ensure_indexes(db)
        assert mongo.upsert_quotes(db, quotes) == len(quotes)

        want = backtest(isolated, QuoteSource("data"), STRATEGIES)
        from_topic = backtest(isolated, QuoteSource("topic"), STRATEGIES)
        from_mongo = backtest(isolated, QuoteSource("mongo"), STRATEGIES)
    finally:
        db.client.drop_database(isolated.mongo_db)
        db.client.close()
    assert len(want.orders) > 500
    assert order_rows(from_topic) == order_rows(want)
    assert order_rows(from_mongo) == order_rows(want)
    assert from_topic.totals.to_dict() == want.totals.to_dict()
    assert from_mongo.totals.to_dict() == want.totals.to_dict()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--topic"], ["topic", "holds no quotes"]),
        (["--topic", "no-such-topic"], ["no-such-topic does not exist"]),
        (["--mongo"], ["MongoDB", "holds no quotes"]),
    ],
)
def test_an_empty_source_is_a_one_line_error(isolated, args, words):
    result = kafkatrade("backtest", *args, settings=isolated)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]
