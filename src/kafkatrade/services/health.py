"""The HTTP endpoint of a service: `/metrics` for Prometheus, `/healthz` and `/readyz` for
Kubernetes' probes, all on `--metrics-port` (0: none).

The service loop reports to a `Health`: `beat()` once per iteration ("alive and not stalled"),
`mark_ready()` once it has polled Kafka successfully. The server runs in a daemon thread, so
it never keeps a stopping process alive.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from kafkatrade.config import ConfigError


class Health:
    """What the loop has reported; answers the probes. Without a server it only records.

    stall_after: seconds without a `beat()` after which the service is no longer ready
    (default 60).
    """

    def __init__(self, stall_after: float = 60.0) -> None:
        self.stall_after = stall_after
        self._ready = False
        self._last_beat = time.monotonic()
        self._server: ThreadingHTTPServer | None = None

    def beat(self) -> None:
        """The loop made one more iteration."""
        self._last_beat = time.monotonic()

    def mark_ready(self) -> None:
        """The service can do its work (e.g. its first Kafka poll succeeded)."""
        self._ready = True
        self.beat()

    def readiness(self) -> tuple[bool, str]:
        """Whether the service is ready, and a one-line reason."""
        if not self._ready:
            return False, "not ready: no successful poll yet"
        idle = time.monotonic() - self._last_beat
        if idle > self.stall_after:
            return False, f"stalled: no progress for {idle:.1f}s (limit {self.stall_after:g}s)"
        return True, "ready"

    @property
    def port(self) -> int | None:
        """The port the endpoint listens on, None when there is none."""
        return self._server.server_address[1] if self._server else None

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Handler(BaseHTTPRequestHandler):
    server: _HealthServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            # Prometheus asks for its format in Accept; without one this is text 0.0.4.
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._reply(200, encoder(REGISTRY), content_type)
        elif path == "/healthz":
            self._reply(200, b"ok\n")
        elif path == "/readyz":
            ready, reason = self.server.health.readiness()
            self._reply(200 if ready else 503, reason.encode() + b"\n")
        else:
            self._reply(404, b"not found\n")

    def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # probes come every few seconds: a line per request would drown the service's logs


class _HealthServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], health: Health) -> None:
        super().__init__(address, _Handler)
        self.health = health


def serve_health(port: int, host: str = "0.0.0.0", stall_after: float = 60.0) -> Health:
    """Starts the endpoint on host:port in a daemon thread; port 0 means no endpoint."""
    health = Health(stall_after)
    if port:
        try:
            health._server = _HealthServer((host, port), health)
        except OSError as error:
            raise ConfigError(
                f"--metrics-port: cannot listen on {host}:{port} ({error.strerror})"
            ) from None
        threading.Thread(
            target=health._server.serve_forever, name="health-endpoint", daemon=True
        ).start()
    return health
