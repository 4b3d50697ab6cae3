"""The local stack for real: a Kafka 4.4.0 broker and FerretDB as processes on loopback.

The tools come from the shared cache (KAFKATRADE_CACHE_DIR, default <repo>/.cache), so only a
first run on a new machine downloads or builds anything; each module run has its own home and
free ports, so it never meets a stack that is already running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kafka.admin import ConfigResource, ConfigResourceType
from pymongo import MongoClient

from kafkatrade.config import Settings
from kafkatrade.kafka.clients import admin
from kafkatrade.kafka.topics import TopicSpec, delete_topics, ensure_topics, partition_counts
from kafkatrade.stack import MissingPrerequisite, Stack, StackError
from kafkatrade.stack.processes import Processes

REPO = Path(__file__).resolve().parents[2]
CACHE_DIR = Path(os.environ.get("KAFKATRADE_CACHE_DIR") or REPO / ".cache")


def free_ports(count: int) -> list[int]:
    """Ports nobody listens on now (all held open together, so they differ)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def fresh_settings(home: Path, **changes: object) -> Settings:
    kafka_port, controller_port, mongo_port = free_ports(3)
    return Settings(
        home=home,
        cache_dir=CACHE_DIR,
        kafka_port=kafka_port,
        kafka_controller_port=controller_port,
        mongo_port=mongo_port,
        # Different counts per topic, so a mix-up between them shows.
        stocks_partitions=2,
        quotes_partitions=3,
        orders_partitions=1,
        kafka_timeout=20.0,
    ).replace(**changes)


def alive(pid: int) -> bool:
    """True if `pid` is a process that has not exited (a zombie has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.fixture(scope="module")
def own_started_stack(tmp_path_factory):
    started = Stack(fresh_settings(tmp_path_factory.mktemp("stack")))
    began = time.monotonic()
    started.up()
    print(f"cold up: {time.monotonic() - began:.1f} s", file=sys.stderr)
    yield started
    started.down()


@pytest.fixture
def own_stack(own_started_stack):
    """This module's stack, running (brought back up if an earlier test stopped it).

    Not the session's shared `stack` of tests/conftest.py: these tests stop and move theirs.
    """
    own_started_stack.up()
    return own_started_stack


@pytest.mark.stack
def test_up_starts_a_broker_that_answers_metadata(own_stack):
    with admin(own_stack.settings) as client:
        cluster = client.describe_cluster()
    assert [broker["broker_id"] for broker in cluster["brokers"]] == [1]
    assert cluster["cluster_id"] == own_stack.broker.cluster_id_file.read_text().strip()
    status = own_stack.status()["kafka"]
    assert status["running"] is True
    assert status["address"] == f"127.0.0.1:{own_stack.settings.kafka_port}"


@pytest.mark.stack
def test_up_creates_the_topics_with_the_configured_partitions(own_stack):
    with admin(own_stack.settings) as client:
        counts = partition_counts(client, ["Stocks", "Quotes", "Orders"])
    assert counts == {"Stocks": 2, "Quotes": 3, "Orders": 1}


@pytest.mark.stack
def test_stocks_topic_is_compacted_and_quotes_is_not(own_stack):
    with admin(own_stack.settings) as client:
        configs = client.describe_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, "Stocks", ["cleanup.policy"]),
                ConfigResource(ConfigResourceType.TOPIC, "Quotes", ["cleanup.policy"]),
            ],
            config_filter="all",
        )["topic"]
    assert configs["Stocks"]["cleanup.policy"]["value"] == "compact"
    assert configs["Quotes"]["cleanup.policy"]["value"] == "delete"


@pytest.mark.stack
def test_mongo_server_answers_ping_and_stores_a_document(own_stack):
    status = own_stack.status()["mongo"]
    assert status["running"] is True
    assert status["address"] == f"127.0.0.1:{own_stack.settings.mongo_port}"
    with MongoClient(own_stack.settings.mongo_address, serverSelectionTimeoutMS=5000) as client:
        assert client.admin.command("ping")["ok"] == 1.0
        collection = client["stacktest"]["probe"]
        collection.insert_one({"_id": "AAPL", "price": 189.5})
        assert collection.find_one({"_id": "AAPL"}) == {"_id": "AAPL", "price": 189.5}


@pytest.mark.stack
def test_up_twice_keeps_the_same_processes(own_stack):
    before = own_stack.status()
    own_stack.up()
    after = own_stack.status()
    assert after["kafka"]["pid"] == before["kafka"]["pid"] is not None
    assert after["mongo"]["pid"] == before["mongo"]["pid"] is not None


@pytest.mark.stack
def test_ensure_topics_leaves_a_topic_with_fewer_partitions_and_warns(own_stack, caplog):
    name = f"test-fewer-{uuid.uuid4().hex[:8]}"
    assert ensure_topics(own_stack.settings, [TopicSpec(name, 1)]) == [name]
    with caplog.at_level(logging.WARNING, logger="kafkatrade.kafka.topics"):
        assert ensure_topics(own_stack.settings, [TopicSpec(name, 3)]) == []
    assert f"topic={name} has 1 partitions, fewer than the 3 configured" in caplog.text
    with admin(own_stack.settings) as client:
        assert partition_counts(client, [name]) == {name: 1}
    delete_topics(own_stack.settings, [name])


@pytest.mark.stack
def test_delete_topics_returns_when_the_topics_are_gone(own_stack):
    prefix = f"test-delete-{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}-0", f"{prefix}-1"]
    ensure_topics(own_stack.settings, [TopicSpec(name, 1) for name in names])
    delete_topics(own_stack.settings, [*names, "test-never-existed"])
    with admin(own_stack.settings) as client:
        assert set(names).isdisjoint(client.list_topics())
    # The names are free again at once.
    assert (
        sorted(ensure_topics(own_stack.settings, [TopicSpec(name, 2) for name in names])) == names
    )


@pytest.mark.stack
def test_down_leaves_no_process_behind(own_stack):
    pids = [own_stack.status()[name]["pid"] for name in ("kafka", "mongo")]
    assert all(alive(pid) for pid in pids)
    own_stack.down()
    assert not any(alive(pid) for pid in pids)
    assert not list((own_stack.settings.home / "run").glob("*.pid"))
    status = own_stack.status()
    assert status["kafka"]["running"] is False
    assert status["mongo"]["running"] is False
    own_stack.down()  # twice is harmless too


@pytest.mark.stack
def test_restart_on_other_ports_keeps_the_formatted_storage(own_started_stack):
    own_started_stack.down()
    cluster_id = own_started_stack.broker.cluster_id_file.read_text().strip()
    moved = Stack(fresh_settings(own_started_stack.settings.home))
    try:
        moved.up()
        with admin(moved.settings) as client:
            assert client.describe_cluster()["cluster_id"] == cluster_id
            # Topics made before the move are still there: same data, new ports.
            assert partition_counts(client, ["Stocks", "Quotes", "Orders"]) == {
                "Stocks": 2,
                "Quotes": 3,
                "Orders": 1,
            }
    finally:
        moved.down()


@pytest.mark.stack
def test_broker_that_exits_at_start_is_reported_with_its_log_file(tmp_path):
    broken = Stack(fresh_settings(tmp_path))
    # Storage formatted for another node: the broker refuses it and exits.
    broken.broker.data_dir.mkdir(parents=True)
    (broken.broker.data_dir / "meta.properties").write_text(
        "version=1\nnode.id=2\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\n"
    )
    try:
        with pytest.raises(StackError) as error:
            broken.up(timeout=60)
    finally:
        broken.down()
    assert str(error.value) == f"Kafka broker exited while starting; see {broken.broker.log_file}"
    assert broken.broker.pid() is None


def test_port_in_use_is_reported_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        blocked = Stack(fresh_settings(tmp_path, kafka_port=port))
        with pytest.raises(StackError) as error:
            blocked.broker.start()
    assert str(error.value) == (
        f"port {port} is in use by another process: stop it or choose another --kafka-port"
    )
    assert blocked.broker.pid() is None


def test_missing_java_is_reported_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingPrerequisite) as error:
        Stack(Settings(home=tmp_path / "home", cache_dir=CACHE_DIR)).provision()
    message = str(error.value)
    assert message.startswith("java not found: install Java 17+")
    assert "\n" not in message


def test_missing_maven_is_reported_when_kafka_is_not_cached(tmp_path, monkeypatch):
    java = subprocess.run(
        ["sh", "-c", "command -v java"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not java:
        pytest.skip("java is not installed")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "java").symlink_to(java)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(MissingPrerequisite) as error:
        Stack(Settings(home=tmp_path / "home", cache_dir=tmp_path / "empty-cache")).provision()
    assert str(error.value).startswith("mvn not found: install Apache Maven")
    assert not (tmp_path / "empty-cache" / "kafka-4.4.0").exists()


def test_stop_ends_a_process_and_forgets_it(tmp_path):
    processes = Processes(tmp_path / "run")
    pid = processes.start("sleeper", ["sleep", "30"], tmp_path / "sleeper.log")
    assert processes.start("sleeper", ["sleep", "30"], tmp_path / "sleeper.log") == pid
    assert processes.is_running("sleeper")
    assert processes.stop("sleeper", timeout=5)
    assert not alive(pid)
    assert not processes.is_running("sleeper")
    assert not (tmp_path / "run" / "sleeper.pid").exists()
    assert not processes.stop("sleeper")


def test_process_that_ignores_sigterm_is_killed(tmp_path):
    processes = Processes(tmp_path / "run")
    # The shell and its sleep both ignore SIGTERM (an ignored signal survives exec).
    pid = processes.start("stubborn", ["sh", "-c", "trap '' TERM; sleep 30"], tmp_path / "s.log")
    time.sleep(0.2)
    began = time.monotonic()
    assert processes.stop("stubborn", timeout=0.5)
    assert time.monotonic() - began < 5
    assert not alive(pid)


def test_pid_file_of_a_reused_pid_is_not_taken_for_our_process(tmp_path):
    processes = Processes(tmp_path / "run")
    pid = processes.start("sleeper", ["sleep", "30"], tmp_path / "sleeper.log")
    try:
        # Same pid, another start time: as if the pid now belonged to an unrelated process.
        (tmp_path / "run" / "sleeper.pid").write_text(f"{pid} 1\n")
        assert not processes.is_running("sleeper")
        assert not processes.stop("sleeper")
        assert alive(pid)
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
