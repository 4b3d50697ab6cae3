"""Fixtures of the fault matrix: the expected figures, a stack of its own, the outcome table.

The broker and FerretDB cases stop a server: each runs on a stack of its own (free ports, a
tmp folder), so the session's shared stack, and every other test on it, never sees the fault.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kafkatrade.config import Settings
from kafkatrade.stack import Stack
from tests.conftest import free_port, isolated_on
from tests.faults.harness import Expected, Outcome, expected_of, write_outcome

OUTCOME_PROPERTY = "fault_outcome"


@pytest.fixture(scope="session")
def expected(stack_settings: Settings) -> Expected:
    """The backtest's orders and the replayed quotes, computed once: no service involved."""
    return expected_of(stack_settings)


@pytest.fixture
def own_stack(stack_settings: Settings, tmp_path_factory) -> Iterator[Stack]:
    """A Kafka broker and a MongoDB-protocol server for one test, on free ports (a few
    seconds to start). One per test, not per module: after the broker case's restart, a
    downloader started on the same broker sometimes never saw its partitions (kafka-python
    3.0.12), which would fail the next case for a fault that is not its own."""
    home = tmp_path_factory.mktemp("fault-stack")
    settings = stack_settings.replace(
        home=home,
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        mongo_port=free_port(),
        market_port=free_port(),
    )
    local = Stack(settings)
    try:
        local.up()
        yield local
    finally:
        local.down()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def own_isolated(own_stack: Stack, request) -> Settings:
    """Like the `isolated` fixture, on the test's own stack: its own topics, groups and
    database, topics created."""
    return isolated_on(own_stack.settings, request)


@pytest.fixture
def record_outcome(record_property, tmp_path: Path) -> Callable[[Outcome], None]:
    """Writes the case's figures as a JSON line to <tmp>/fault-outcome.jsonl and attaches them
    to the test report (JUnit XML property; the terminal summary prints the table)."""

    def record(outcome: Outcome) -> None:
        line = write_outcome(outcome, tmp_path / "fault-outcome.jsonl")
        record_property(OUTCOME_PROPERTY, line)

    return record


COLUMNS = (
    ("case", 26),
    ("lost", 5),
    ("dup", 5),
    ("order", 6),
    ("db lost", 8),
    ("recovery s", 11),
    ("settled s", 10),
)


def pytest_terminal_summary(terminalreporter) -> None:
    """The fault matrix as a table: one row per case that recorded its outcome."""
    rows = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for name, value in getattr(report, "user_properties", ()):
                if name == OUTCOME_PROPERTY:
                    rows.append((report.outcome, json.loads(value)))
    if not rows:
        return
    terminalreporter.section("fault matrix")
    header = " ".join(f"{name:>{width}}" for name, width in COLUMNS) + "  result"
    terminalreporter.write_line(header)
    for result, row in sorted(rows, key=lambda r: r[1]["case"]):
        cells = (
            row["case"],
            row["orders_lost"],
            row["orders_duplicated"],
            row["orders_out_of_order"],
            row["mongo_quotes_lost"] + row["mongo_orders_lost"],
            row["recovery_s"],
            row["settled_s"],
        )
        line = " ".join(
            f"{cell!s:>{width}}" for cell, (_, width) in zip(cells, COLUMNS, strict=True)
        )
        terminalreporter.write_line(f"{line}  {result}")
    for _, row in sorted(rows, key=lambda r: r[1]["case"]):
        terminalreporter.write_line(json.dumps(row, sort_keys=True))
