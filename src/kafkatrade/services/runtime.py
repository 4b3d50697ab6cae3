"""What every service process needs: logs that grep well, a stop flag, and backoff."""

from __future__ import annotations

import logging
import random
import signal
import sys
import threading


def configure_logging(service: str, instance: str, level: int = logging.INFO) -> None:
    """`time level service=bot instance=1 message`: one line per event, easy to grep."""
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s service={service} instance={instance} %(message)s",
        force=True,
    )
    # The Kafka client logs every connection attempt and rebalance step; keep its errors.
    logging.getLogger("kafka").setLevel(logging.ERROR)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM (what Kubernetes sends) or SIGINT (Ctrl-C)."""
    stop = threading.Event()

    def _handler(signum, _frame) -> None:
        logging.getLogger(__name__).info("signal=%s stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    return stop


class Backoff:
    """Exponential delays with full jitter, capped: retries that do not stampede.

    The n-th delay in a row is uniform in [0, min(cap, base * 2**n)). `next_delay(at_least)`
    never goes below a wait the server asked for (its Retry-After), honoured up to `max_wait`
    so that a provider asking for hours cannot silence the service for hours.
    """

    def __init__(self, base: float = 0.5, cap: float = 30.0, max_wait: float = 60.0) -> None:
        self.base, self.cap, self.max_wait, self.attempt = base, cap, max_wait, 0

    def next_delay(self, at_least: float | None = None) -> float:
        # The exponent stops growing once past the cap: 2**1100 is not a float.
        ceiling = min(self.cap, self.base * 2 ** min(self.attempt, 64))
        delay = random.uniform(0, ceiling)
        self.attempt += 1
        return max(delay, min(at_least or 0.0, self.max_wait))

    def reset(self) -> None:
        self.attempt = 0
