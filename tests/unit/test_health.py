"""The health endpoint over real HTTP: liveness, readiness with stall detection, metrics, 404."""

import socket
import time

import pytest
import requests

from kafkatrade.config import ConfigError
from kafkatrade.services.health import serve_health


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def endpoint():
    health = serve_health(free_port(), host="127.0.0.1", stall_after=0.2)
    yield health, f"http://127.0.0.1:{health.port}"
    health.close()


def test_healthz_answers_ok_while_the_process_runs(endpoint):
    _, url = endpoint
    response = requests.get(f"{url}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.text.strip() == "ok"


def test_readyz_is_503_until_ready_then_200_then_503_when_the_loop_stalls(endpoint):
    health, url = endpoint
    before = requests.get(f"{url}/readyz", timeout=5)
    assert before.status_code == 503
    assert "no successful poll" in before.text

    health.mark_ready()
    assert requests.get(f"{url}/readyz", timeout=5).status_code == 200
    health.beat()
    assert requests.get(f"{url}/readyz", timeout=5).status_code == 200

    time.sleep(0.3)  # longer than stall_after = 0.2 s, with no beat
    stalled = requests.get(f"{url}/readyz", timeout=5)
    assert stalled.status_code == 503
    assert "stalled" in stalled.text

    health.beat()
    assert requests.get(f"{url}/readyz", timeout=5).status_code == 200


def test_metrics_serves_the_default_registry_in_the_text_format(endpoint):
    _, url = endpoint
    response = requests.get(f"{url}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "process_cpu_seconds_total" in response.text or "python_info" in response.text


def test_unknown_path_is_404(endpoint):
    _, url = endpoint
    assert requests.get(f"{url}/nothing-here", timeout=5).status_code == 404


def test_port_zero_means_no_endpoint_but_the_loop_can_still_report():
    health = serve_health(0)
    assert health.port is None
    health.beat()
    health.mark_ready()
    assert health.readiness() == (True, "ready")
    health.close()


def test_a_port_in_use_is_a_one_line_settings_error(endpoint):
    health, _ = endpoint
    with pytest.raises(ConfigError, match="--metrics-port"):
        serve_health(health.port, host="127.0.0.1")
