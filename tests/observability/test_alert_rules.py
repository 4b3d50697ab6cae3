"""The alert rules the chart ships (helm/kafkatrade/files/alerts.yaml) pass promtool's checks
and its unit tests (alerts.test.yaml): each alert firing, and not firing, on made-up series."""

from __future__ import annotations

import subprocess

import yaml

from tests.observability.conftest import ALERT_TESTS, ALERTS


def test_promtool_check_rules_is_clean(prometheus_tools):
    promtool = prometheus_tools[1]
    result = subprocess.run(
        [str(promtool), "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout


def test_every_alert_has_unit_tests_firing_and_not_firing(prometheus_tools):
    promtool = prometheus_tools[1]
    alerts = {
        rule["alert"]
        for group in yaml.safe_load(ALERTS.read_text())["groups"]
        for rule in group["rules"]
    }
    assert alerts == {
        "KafkatradeConsumerLagHigh",
        "KafkatradeNoQuotes",
        "KafkatradeDeadLetters",
        "KafkatradeProviderErrors",
        "KafkatradeServiceDown",
    }
    cases = [
        case for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]  # fmt: skip
    assert {c["alertname"] for c in cases if c.get("exp_alerts")} == alerts  # firing
    assert {c["alertname"] for c in cases if not c.get("exp_alerts")} == alerts  # not firing

    # Relative paths in the test file are resolved from the working directory.
    result = subprocess.run(
        [str(promtool), "test", "rules", ALERT_TESTS.name],
        cwd=ALERT_TESTS.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
