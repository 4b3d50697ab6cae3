"""The services' metrics as a real Prometheus scraped them during `kafkatrade run` over the
default data: counts equal to what is on the topics, lag back to 0, latency quantiles present,
and every /metrics page clean for `promtool check metrics`."""

from __future__ import annotations

import subprocess
from collections import Counter

import pytest
import requests

from kafkatrade.marketdata import load
from kafkatrade.symbols import read_symbols_file
from tests.observability.conftest import REPO, Scraped
from tests.support import read_orders, wait_for

pytestmark = pytest.mark.stack

SERVICES = ["bot-1", "bot-2", "dbservice-1", "downloader-1", "downloader-2"]


def total(metric: str, **labels: str) -> str:
    """`sum(metric{label="value", ...})`."""
    selector = ", ".join(f'{name}="{value}"' for name, value in labels.items())
    return f"sum({metric}{{{selector}}})"


def _replayed_quotes() -> int:
    data = load()
    return sum(len(data[symbol]) for symbol in read_symbols_file(REPO / "stocks.txt"))


def test_every_service_is_scraped_and_says_its_version(scraped: Scraped):
    assert sorted(scraped.targets) == SERVICES
    up = {r["metric"]["pod"]: r["value"][1] for r in scraped.query('up{job="kafkatrade"}')}
    assert up == dict.fromkeys(SERVICES, "1")
    versions = scraped.query("kafkatrade_build_info")
    assert sorted(r["metric"]["pod"] for r in versions) == SERVICES
    assert all(r["value"][1] == "1" and r["metric"]["version"] for r in versions)


def test_message_counts_equal_the_records_on_the_topics(scraped: Scraped):
    quotes, orders_topic = scraped.settings.quotes_topic, scraped.settings.orders_topic
    expected = _replayed_quotes()
    assert expected == 4372
    consumed_by_bots = total("kafkatrade_messages_consumed_total", service="bot", topic=quotes)
    # The counters are final once the run has ended; the last scrape may still be on its way.
    wait_for(lambda: scraped.value(consumed_by_bots) == expected, 15, "bots consumed all quotes")

    produced = "kafkatrade_messages_produced_total"
    consumed = "kafkatrade_messages_consumed_total"
    assert scraped.value(total(produced, service="downloader", topic=quotes)) == expected
    assert scraped.value(total("kafkatrade_quotes_downloaded_total", provider="iex")) == expected
    assert scraped.value(total(consumed, service="dbservice", topic=quotes)) == expected

    orders = read_orders(scraped.settings)
    assert len(orders) > 500
    assert scraped.value(total(produced, service="bot", topic=orders_topic)) == len(orders)
    assert scraped.value(total(consumed, service="dbservice", topic=orders_topic)) == len(orders)
    got = {
        (r["metric"]["strategy"], r["metric"]["side"]): float(r["value"][1])
        for r in scraped.query("sum by (strategy, side) (kafkatrade_orders_total)")
    }
    assert got == {
        kind: float(n) for kind, n in Counter((o.strategy, o.side) for o in orders).items()
    }

    # Every record written once (more only if a write had been retried).
    written = "kafkatrade_db_documents_written_total"
    assert scraped.value(total(written, collection="quotes")) >= expected
    assert scraped.value(total(written, collection="orders")) >= len(orders)
    # The downloaders' requests were answered; no record was skipped.
    assert scraped.value(total("kafkatrade_provider_requests_total", status="200")) > 0
    assert scraped.value("sum(kafkatrade_dlq_messages_total)") == 0


def test_lag_returns_to_zero_for_every_group_and_partition(scraped: Scraped):
    settings = scraped.settings
    groups = {
        settings.bot_group: settings.quotes_topic,
        settings.db_quotes_group: settings.quotes_topic,
        settings.db_orders_group: settings.orders_topic,
    }
    series = "max by (consumergroup, topic, partition) (kafkatrade_consumer_lag)"

    def settled():
        rows = scraped.query(series)
        return rows if rows and all(float(r["value"][1]) == 0 for r in rows) else None

    rows = wait_for(settled, 20, f"{series} all 0")  # refreshed every 5 s, scraped every 1 s
    seen = {
        (r["metric"]["consumergroup"], r["metric"]["topic"], r["metric"]["partition"]) for r in rows
    }
    assert seen == {(g, t, p) for g, t in groups.items() for p in ("0", "1")}


def test_quote_to_order_latency_has_quantiles_and_counts_every_order(scraped: Scraped):
    orders = len(read_orders(scraped.settings))
    assert scraped.value("sum(kafkatrade_quote_to_order_seconds_count)") == orders
    buckets = "sum by (le) (kafkatrade_quote_to_order_seconds_bucket)"
    p50 = scraped.value(f"histogram_quantile(0.5, {buckets})")
    p99 = scraped.value(f"histogram_quantile(0.99, {buckets})")
    assert 0 < p50 <= p99 < 300, (p50, p99)  # finite: within the buckets


def test_partitions_symbols_and_quote_ages(scraped: Scraped):
    settings = scraped.settings
    assigned = "kafkatrade_assigned_partitions"
    bots = total(assigned, service="bot", topic=settings.quotes_topic)
    assert scraped.value(bots) == settings.quotes_partitions
    downloaders = total(assigned, service="downloader", topic=settings.stocks_topic)
    assert scraped.value(downloaders) == settings.stocks_partitions

    symbols = read_symbols_file(REPO / "stocks.txt")
    # The metric's own `instance` label is kept by Prometheus as exported_instance.
    per_downloader = scraped.query("kafkatrade_symbols_assigned")
    assert sorted(r["metric"]["exported_instance"] for r in per_downloader) == ["1", "2"]
    assert sum(float(r["value"][1]) for r in per_downloader) == len(symbols)

    ages = {
        r["metric"]["symbol"]: float(r["value"][1])
        for r in scraped.query("kafkatrade_quote_age_seconds")
    }
    assert sorted(ages) == sorted(symbols)
    now, data = scraped.value("time()"), load()
    for symbol, age in ages.items():  # since the replayed date of the symbol's last bar
        assert age == pytest.approx(now - data[symbol][-1].timestamp.timestamp(), abs=60)


@pytest.mark.parametrize("pod", SERVICES)
def test_promtool_check_metrics_is_clean(scraped: Scraped, prometheus_tools, pod):
    page = requests.get(f"http://{scraped.targets[pod]}/metrics", timeout=5)
    assert page.status_code == 200
    assert "kafkatrade_build_info" in page.text
    result = subprocess.run(
        [str(prometheus_tools[1]), "check", "metrics"],
        input=page.text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
