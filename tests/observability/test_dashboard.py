"""The Grafana dashboard the chart ships (helm/kafkatrade/files/dashboards/kafkatrade.json):
every panel's query, with the template variables substituted, returns data from the real
Prometheus that scraped a run."""

from __future__ import annotations

import json
import math

import pytest

from tests.observability.conftest import DASHBOARD, NAMESPACE, Scraped

# What Grafana would put in: our namespace, and a rate window spanning the whole run.
VARIABLES = {"$namespace": NAMESPACE, "$__rate_interval": "5m"}


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def _queries() -> list[tuple[str, str]]:
    return [
        (f"{panel['title']} [{target['refId']}]", target["expr"])
        for panel in _dashboard()["panels"]
        for target in panel.get("targets", [])
    ]


def test_datasource_and_namespace_are_template_variables():
    dashboard = _dashboard()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["namespace"]["datasource"]["uid"] == "${datasource}"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert 'namespace="$namespace"' in target["expr"], panel["title"]


def test_the_dashboard_covers_what_operators_look_at():
    exprs = " ".join(expr for _, expr in _queries())
    for metric in (
        "kafkatrade_messages_consumed_total",
        "kafkatrade_messages_produced_total",
        "kafkatrade_consumer_lag",
        "kafkatrade_orders_total",
        "kafkatrade_quote_to_order_seconds_bucket",
        "kafkatrade_provider_requests_total",
        "kafkatrade_db_write_seconds_bucket",
        "kafkatrade_dlq_messages_total",
        "kafkatrade_quote_age_seconds",
    ):
        assert metric in exprs


@pytest.mark.stack
@pytest.mark.parametrize(("panel", "expr"), _queries(), ids=[name for name, _ in _queries()])
def test_every_panel_query_returns_data(scraped: Scraped, panel, expr):
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, expr
    result = scraped.query(expr)
    assert result, f"{panel}: no data for {expr}"
    values = [float(sample["value"][1]) for sample in result]
    assert any(math.isfinite(v) for v in values), f"{panel}: {expr} gave {values}"
