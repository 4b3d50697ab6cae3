"""A real Prometheus scraping a real `kafkatrade run` over the default data, shared by the
metric and dashboard tests of this folder.

Prometheus (Debian's package, `kafkatrade.stack.provision.ensure_prometheus`) runs on a free
port with its own data folder, scraping every second the services listed by the run in
`<home>/prometheus-targets.json` (file_sd, labels namespace="local" and pod), with the alert
rules of the chart loaded. The run keeps its services up (`--follow`) until the tests end, so
the last values are scraped.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from kafkatrade.config import Settings
from kafkatrade.pipeline import TARGETS_FILE
from kafkatrade.stack.provision import ensure_prometheus
from tests.conftest import free_port, isolate
from tests.support import wait_for

REPO = Path(__file__).resolve().parents[2]
CHART_FILES = REPO / "helm" / "kafkatrade" / "files"
ALERTS = CHART_FILES / "alerts.yaml"
ALERT_TESTS = CHART_FILES / "alerts.test.yaml"
DASHBOARD = CHART_FILES / "dashboards" / "kafkatrade.json"
NAMESPACE = "local"  # the namespace label the run gives its targets


@pytest.fixture(scope="session")
def prometheus_tools() -> tuple[Path, Path]:
    """`prometheus` and `promtool`; a missing package fails with the one-line install hint."""
    try:
        return ensure_prometheus()
    except Exception as error:  # do not skip: CI installs it (.ci/run)
        pytest.fail(str(error))


@dataclass
class Scraped:
    """The run's settings and a PromQL client of the Prometheus that scraped it."""

    settings: Settings
    url: str
    targets: dict[str, str]  # pod -> host:port of its /metrics

    def query(self, expr: str) -> list[dict]:
        """The instant vector (or scalar, as one sample) of `expr` now."""
        answer = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        assert answer.status_code == 200, f"{expr}: {answer.text}"
        data = answer.json()["data"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def value(self, expr: str) -> float:
        """The single value of `expr`; NaN when it has no result."""
        result = self.query(expr)
        assert len(result) <= 1, f"{expr}: {len(result)} series"
        return float(result[0]["value"][1]) if result else math.nan


def _settings(stack_settings: Settings) -> Settings:
    """Topics, groups and database of this module only (as the `isolated` fixture makes)."""
    tag = f"observability-{uuid.uuid4().hex[:6]}"
    return isolate(stack_settings, tag).replace(
        market_port=free_port(),  # the session's stays free for the other pipeline tests
    )


def _start_prometheus(
    binary: Path, folder: Path, targets_file: Path
) -> tuple[subprocess.Popen, str]:
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [
            {
                "job_name": "kafkatrade",
                "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "1s"}],
            }
        ],
    }
    (folder / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    log = open(folder / "prometheus.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [
            str(binary),
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"prometheus exited: {(folder / 'prometheus.log').read_text()}")
        try:
            return requests.get(f"{url}/-/ready", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    wait_for(ready, 30, "Prometheus ready")
    return process, url


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# Package scope: the run's services stop once this folder's tests are done.
@pytest.fixture(scope="package")
def scraped(
    stack, stack_settings: Settings, prometheus_tools, tmp_path_factory
) -> Iterator[Scraped]:
    """`kafkatrade run --rate 200 --follow` over the default data, scraped until it settled."""
    folder = tmp_path_factory.mktemp("prometheus")
    settings = _settings(stack_settings)
    targets_file = settings.home / TARGETS_FILE
    targets_file.parent.mkdir(parents=True, exist_ok=True)
    targets_file.write_text("[]\n")
    prometheus, url = _start_prometheus(prometheus_tools[0], folder, targets_file)
    output = folder / "run.log"
    with open(output, "wb") as log:
        run = subprocess.Popen(
            [
                sys.executable, "-m", "kafkatrade", "run", "--rate", "200", "--timeout", "240",
                "--summary", str(folder / "run-summary.json"), "--report", str(folder / "report"),
                "--symbols", str(REPO / "stocks.txt"), "--follow",
            ],
            env=os.environ | settings.to_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def following() -> bool:
        text = output.read_text(errors="replace")
        if run.poll() is not None:
            raise AssertionError(f"kafkatrade run exited {run.returncode}:\n{text[-3000:]}")
        return "following:" in text

    try:
        wait_for(following, 240, "kafkatrade run finished its data", interval=1)
        targets = {
            group["labels"]["pod"]: group["targets"][0]
            for group in json.loads(targets_file.read_text())
        }
        yield Scraped(settings, url, targets)
    finally:
        _stop(run, signal.SIGINT)
        _stop(prometheus)
        _drop_database(settings)


def _drop_database(settings: Settings) -> None:
    from kafkatrade.db import mongo

    db = mongo.connect(settings)
    try:
        db.client.drop_database(settings.mongo_db)
    finally:
        db.client.close()
