"""The fault matrix: the default real data through the pipeline, as separate processes, while
one thing breaks; then `Orders` (read_committed) and MongoDB must hold exactly what the
backtest and the replay say, with 0 lost, 0 duplicated and each symbol's orders in order.

Each case records its figures (lost, duplicated, out of order, recovery time) as a JSON line
in its tmp dir and in the report; the terminal summary prints them as a table.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from kafkatrade.kafka.dlq import read_dead_letters
from kafkatrade.stack import Stack
from tests.faults import corpus
from tests.faults.corpus import CORPUS
from tests.faults.harness import FaultRun
from tests.support import group_partitions

pytestmark = [pytest.mark.fault, pytest.mark.stack]

# Timeline steps per second: the default data's 1404 steps take ~20 s, long enough for a
# fault in the middle, short enough for the matrix to stay within minutes.
RATE = 70.0
# The fault hits once the replay clock has walked this share of the timeline.
MID_STREAM = 0.3
# kafka-python's consumer defaults in kafkatrade.kafka.clients: a killed member is noticed
# after the session timeout; the survivor learns of the rebalance at its next heartbeat.
SESSION_TIMEOUT = 10.0
HEARTBEAT_INTERVAL = 3.0
FERRETDB_OUTAGE = 15.0
RETRY_AFTER = 1  # seconds, the Retry-After of the provider's 429 answers


def test_bot_killed_mid_stream_and_restarted(isolated, expected, tmp_path, record_outcome):
    """kill -9 between an order's send and its quote's commit must neither lose nor repeat."""
    with FaultRun(
        isolated, expected, tmp_path / "logs", case="bot kill -9", fault="kill -9", rate=RATE
    ) as run:
        run.begin()
        run.wait_mid_stream(
            MID_STREAM, lambda: run.orders_on_topic() > 0, "orders on Orders, mid-stream"
        )
        # In the middle of a batch: the bot logs an order right after handing it to the
        # producer, before the flush and the commit of the quote that made it.
        run.outcome.extra["killed_on_order_line"] = run.kill_on_log("bot-1", "order id=")
        restarted = run.start("bot-1", "bot", "--instance", "1")
        backlog = run.ends()
        run.outcome.recovery_s = run.measure(
            lambda: run.progressed([(run.settings.bot_group, run.settings.quotes_topic)], backlog),
            restarted,
            60,
        )
        outcome = run.finish(restarted)
        record_outcome(outcome)
        assert outcome.recovery_s is not None, run.failure("bot-1")
        assert outcome.settled and outcome.clean and not outcome.exited, run.failure("bot-1")


def test_dbservice_killed_mid_stream_and_restarted(isolated, expected, tmp_path, record_outcome):
    """kill -9 between a bulk write and its commit: the batch is written again, once."""
    with FaultRun(
        isolated, expected, tmp_path / "logs", case="dbservice kill -9", fault="kill -9", rate=RATE
    ) as run:
        run.begin()
        run.wait_mid_stream(
            MID_STREAM, lambda: run.stored_quotes() > 0, "quotes in MongoDB, mid-stream"
        )
        run.kill("dbservice-1")
        restarted = run.start("dbservice-1", "dbservice", "--instance", "1")
        backlog = run.ends()
        s = run.settings
        run.outcome.recovery_s = run.measure(
            lambda: (
                run.progressed([(s.db_quotes_group, s.quotes_topic)], backlog)
                and run.caught_up([(s.db_orders_group, s.orders_topic)], backlog)
            ),
            restarted,
            60,
        )
        outcome = run.finish(restarted)
        record_outcome(outcome)
        assert outcome.recovery_s is not None, run.failure("dbservice-1")
        assert outcome.settled and outcome.clean and not outcome.exited, run.failure("dbservice-1")


def test_downloader_killed_and_the_survivor_takes_its_symbols(
    isolated, expected, tmp_path, record_outcome
):
    """Two downloaders; kill -9 of one: the other owns both Stocks partitions once the group's
    session timeout has passed, and resumes the dead one's symbols after their last quote."""
    with FaultRun(
        isolated,
        expected,
        tmp_path / "logs",
        case="downloader kill -9 (of 2)",
        fault="kill -9, no restart",
        rate=RATE,
        downloaders=2,
    ) as run:
        run.begin()
        group = run.settings.downloader_group
        run.wait_mid_stream(
            MID_STREAM, lambda: run.quotes_on_topic() > 0, "quotes on Quotes, mid-stream"
        )
        owned = group_partitions(run.settings, group)
        killed = run.kill("downloader-2")
        run.outcome.recovery_s = run.measure(
            lambda: group_partitions(run.settings, group) == {"downloader-1": {0, 1}}, killed, 30
        )
        run.outcome.extra["partitions_before"] = {k: sorted(v) for k, v in (owned or {}).items()}
        outcome = run.finish(killed)
        record_outcome(outcome)
        bound = SESSION_TIMEOUT + HEARTBEAT_INTERVAL + 2.0  # + the rejoin itself
        assert outcome.recovery_s is not None and outcome.recovery_s <= bound, run.failure(
            "downloader-1", "downloader-2"
        )
        assert outcome.settled and outcome.clean and not outcome.exited, run.failure(
            "downloader-1", "downloader-2"
        )


def test_broker_stopped_and_restarted_mid_stream(
    own_stack: Stack, own_isolated, expected, tmp_path, record_outcome
):
    """The only broker goes away and comes back: every service rides through it."""
    with FaultRun(
        own_isolated,
        expected,
        tmp_path / "logs",
        case="broker stop + restart",
        fault="broker SIGTERM, started again at once",
        rate=RATE,
    ) as run:
        run.begin()
        run.wait_mid_stream(
            MID_STREAM, lambda: run.quotes_on_topic() > 0, "quotes on Quotes, mid-stream"
        )
        stopped = time.monotonic()
        own_stack.broker.stop()
        own_stack.broker.start()
        own_stack.broker.wait_ready(90)
        back = time.monotonic()
        run.outcome.extra["outage_s"] = round(back - stopped, 2)
        backlog = run.ends()
        s = run.settings
        quotes_groups = [(s.bot_group, s.quotes_topic), (s.db_quotes_group, s.quotes_topic)]
        run.outcome.recovery_s = run.measure(
            lambda: (
                run.progressed(quotes_groups, backlog)
                and run.caught_up([(s.db_orders_group, s.orders_topic)], backlog)
            ),
            back,
            90,
        )
        outcome = run.finish(back)
        record_outcome(outcome)
        services = ("bot-1", "dbservice-1", "downloader-1")
        assert outcome.recovery_s is not None, run.failure(*services)
        assert outcome.settled and outcome.clean and not outcome.exited, run.failure(*services)


def test_ferretdb_stopped_for_15_s_mid_stream(
    own_stack: Stack, own_isolated, expected, tmp_path, record_outcome
):
    """MongoDB away for 15 s: the dbservice retries with backoff, commits nothing meanwhile,
    and catches up once it is back."""
    with FaultRun(
        own_isolated,
        expected,
        tmp_path / "logs",
        case="FerretDB down 15 s",
        fault=f"FerretDB stopped {FERRETDB_OUTAGE:g} s",
        rate=RATE,
    ) as run:
        s = run.settings
        db_groups = [(s.db_quotes_group, s.quotes_topic), (s.db_orders_group, s.orders_topic)]
        run.begin()
        run.wait_mid_stream(
            MID_STREAM, lambda: run.stored_quotes() > 0, "quotes in MongoDB, mid-stream"
        )
        stopped = time.monotonic()
        own_stack.mongo.stop()
        # A write that was under way when the server stopped may still commit: look from here.
        time.sleep(3)
        before = {g: run.offsets.committed(g, t) for g, t in db_groups}
        time.sleep(FERRETDB_OUTAGE - (time.monotonic() - stopped))
        after = {g: run.offsets.committed(g, t) for g, t in db_groups}
        own_stack.mongo.start()
        own_stack.mongo.wait_ready(30)
        back = time.monotonic()
        stored_then = run.stored_quotes()
        backlog = run.ends()
        run.outcome.recovery_s = run.measure(
            lambda: run.stored_quotes() > stored_then and run.caught_up(db_groups, backlog),
            back,
            90,
        )
        commits = sum(
            (after[g] or {}).get(p, 0) - offset
            for g in before
            for p, offset in (before[g] or {}).items()
        )
        run.outcome.extra.update(
            outage_s=round(back - stopped, 2),
            commits_during_outage=commits,
            failed_writes_logged=run.log_count("dbservice-1", "write failed"),
        )
        outcome = run.finish(back)
        record_outcome(outcome)
        assert commits == 0 and outcome.extra["failed_writes_logged"] > 0, run.failure(
            "dbservice-1"
        )
        assert outcome.recovery_s is not None, run.failure("dbservice-1")
        assert outcome.settled and outcome.clean and not outcome.exited, run.failure("dbservice-1")


@pytest.mark.parametrize("kind", ["500", "429", "timeout", "truncated"])
def test_provider_fails_a_fifth_of_the_requests(
    kind: str, isolated, expected, tmp_path, record_outcome
):
    """The quote provider answers 20 % of the requests with a fault of one kind: the
    downloader retries with backoff and, the bars endpoint being gap-free, misses nothing."""
    # A client timeout of 1 s against a 3 s hold: the fault still outlasts the client, and the
    # matrix does not wait 5 s per timed-out request.
    settings = isolated.replace(http_timeout=1.0)
    market_args = ("--faults", f"{kind}=0.2", "--fault-seed", "7", "--fault-hold", "3")
    market_args += ("--fault-retry-after", str(RETRY_AFTER))
    with FaultRun(
        settings,
        expected,
        tmp_path / "logs",
        case=f"provider {kind} at 20%",
        fault=f"{kind} on 20% of provider requests",
        rate=RATE,
        market_args=market_args,
    ) as run:
        run.begin()
        outcome = run.finish(run.stream_started_at)
        status = run.market_status() or {}
        served = status.get("faults", {}).get("served", {})
        outcome.extra.update(
            faults_served=served.get(kind, 0),
            provider_requests=status.get("faults", {}).get("requests", 0),
            provider_errors_logged=run.log_count("downloader-1", "provider error="),
        )
        if kind == "429":  # the provider said when to come back: not sooner
            delays = run.retry_delays("downloader-1", "HTTP 429")
            outcome.extra["retries_sooner_than_retry_after"] = sum(
                1 for delay in delays if delay < RETRY_AFTER
            )
        record_outcome(outcome)
        assert served.get(kind, 0) > 0, run.failure("market", "downloader-1")
        assert not outcome.extra.get("retries_sooner_than_retry_after"), run.failure("downloader-1")
        assert outcome.settled and outcome.clean and not outcome.exited, run.failure("downloader-1")


# Who reads each kind of topic, so who dead-letters its malformed records: each once.
REFUSED_BY = {"stocks": ("downloader",), "quotes": ("bot", "dbservice"), "orders": ("dbservice",)}


def test_malformed_records_produced_mid_stream(isolated, expected, tmp_path, record_outcome):
    """The corpus of malformed records straight onto Stocks, Quotes and Orders while the data
    flows: each lands once in its topic's dead-letter topic per service that reads it, with
    the right reason and origin, and the pipeline's output is what it would have been."""
    with FaultRun(
        isolated,
        expected,
        tmp_path / "logs",
        case="malformed records",
        fault=f"{len(CORPUS)} malformed records into Stocks, Quotes and Orders",
        rate=RATE,
    ) as run:
        run.begin()
        run.wait_mid_stream(
            MID_STREAM, lambda: run.orders_on_topic() > 0, "orders on Orders, mid-stream"
        )
        placed, refused = corpus.produce(run.settings, CORPUS)
        # Kafka refuses a keyless record on a compacted topic: it never reaches a service.
        assert set(refused) == {"stock_no_key"}, refused
        want = Counter(
            (*position, service, str(entry.reason))
            for position, entry in placed.items()
            for service in REFUSED_BY[entry.kind]
        )
        outcome = run.finish(run.stream_started_at)
        s = run.settings

        def dead_letters() -> Counter:
            letters = [
                letter
                for topic in (s.stocks_topic, s.quotes_topic, s.orders_topic)
                for letter in read_dead_letters(s, topic)
            ]
            return Counter((d.topic, d.partition, d.offset, d.service, d.reason) for d in letters)

        deadline = time.monotonic() + 30  # the settled pipeline has read every record
        while (got := dead_letters()).total() < want.total() and time.monotonic() < deadline:
            time.sleep(0.5)
        outcome.extra.update(
            malformed_records=len(placed),
            refused_by_the_broker=len(refused),
            dead_letters_expected=want.total(),
            dead_letters=got.total(),
            dead_letters_missing=(want - got).total(),
            dead_letters_unexpected=(got - want).total(),
        )
        record_outcome(outcome)
        assert got == want, run.failure("bot-1", "dbservice-1", "downloader-1")
        assert outcome.settled and outcome.clean and not outcome.exited, run.failure()
