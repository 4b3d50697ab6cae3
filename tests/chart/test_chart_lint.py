"""`helm lint --strict` accepts every tested configuration and rejects bad values clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Chart

pytestmark = pytest.mark.helm


def test_lint_strict_passes(chart: Chart, ci_values: Path):
    result = chart.lint("-f", str(ci_values))

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "1 chart(s) linted, 0 chart(s) failed" in output
    assert "[WARNING]" not in output and "[ERROR]" not in output, output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["--set", "topics.quotes.partitions=-3"],
            ["at '/topics/quotes/partitions'", "minimum: got -3, want 1"],
            id="negative-partitions",
        ),
        pytest.param(
            ["--set", "replicaCount=3"],
            ["additional properties 'replicaCount' not allowed"],
            id="unknown-top-level-key",
        ),
        pytest.param(
            ["--set", "kafka.create=false"],
            ["at '/kafka/bootstrapServers'", "minLength: got 0, want 1"],
            id="external-kafka-without-bootstrap",
        ),
        pytest.param(
            ["--set", "bot.terminationGracePeriodSeconds=10"],
            ["at '/bot/terminationGracePeriodSeconds'", "minimum: got 10, want 15"],
            id="grace-period-shorter-than-a-shutdown",
        ),
        pytest.param(
            ["--set", "groups.bot=Trading Bot"],
            ["at '/groups/bot'", "does not match pattern"],
            id="bot-group-not-a-topic-name-prefix",
        ),
    ],
)
def test_schema_rejects_bad_values_with_a_clear_message(chart: Chart, args, expected):
    result = chart.lint(*args)

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "values don't meet the specifications of the schema" in output
    for words in expected:
        assert words in output, output
