"""Faults the replay server can inject, so that clients are tested against a provider that fails.

A spec `KIND=SHARE[,KIND=SHARE...]` says which share of the requests gets which fault:

- `500`: HTTP 500 with a JSON error;
- `429`: HTTP 429 with a `Retry-After` header (whole seconds, `retry_after`, default 1);
- `timeout`: no answer for `hold` seconds (default 10, twice a client's default 5 s timeout),
  then the connection is closed without an answer;
- `truncated`: HTTP 200 whose JSON body is cut in the middle (with a Content-Length that
  matches the cut body, so the HTTP exchange itself is well-formed).

Shares are in [0, 1] and add up to at most 1. Which request gets which fault is drawn, not
counted: each faultable request (every request but `/status`) takes one number
`u = rng.random()` from `random.Random(seed)`, in the order the requests arrive, and the kinds
take consecutive intervals of [0, 1) in the order 500, 429, timeout, truncated, each as wide as
its share; `u` past the last interval means no fault. A seed therefore makes the sequence of
faults reproducible for a client that sends its requests one after the other.

A fault never changes what a later request gets: the replay has no per-client cursor (a client
passes its own `since`), so a client that retries a faulted request gets everything.
"""

from __future__ import annotations

import math
import random
import threading
from collections import Counter
from dataclasses import dataclass, field

from kafkatrade.config import ConfigError

KINDS = ("500", "429", "timeout", "truncated")
DEFAULT_RETRY_AFTER = 1
DEFAULT_HOLD = 10.0


@dataclass(frozen=True)
class Faults:
    """Which share of requests gets which fault; see the module docstring.

    `shares`: kind -> share, in `KINDS` order (kinds with share 0 may be left out). `seed`:
    of the draws (None: a different sequence every time). `retry_after`: seconds the 429
    answers ask to wait. `hold`: seconds a `timeout` fault holds the request.
    """

    shares: dict[str, float] = field(default_factory=dict)
    seed: int | None = None
    retry_after: int = DEFAULT_RETRY_AFTER
    hold: float = DEFAULT_HOLD

    def __post_init__(self) -> None:
        for kind, share in self.shares.items():
            if kind not in KINDS:
                raise ConfigError(f"unknown fault {kind!r}; the faults are {', '.join(KINDS)}")
            _check_share(kind, share)
        total = sum(self.shares.values())
        if total > 1 + 1e-9:
            raise ConfigError(f"the fault shares add up to {total:g}, more than 1")
        if isinstance(self.retry_after, bool) or not isinstance(self.retry_after, int):
            raise ConfigError(
                f"the Retry-After of 429 faults must be whole seconds, not {self.retry_after!r}"
            )
        if self.retry_after < 0:
            raise ConfigError(
                f"the Retry-After of 429 faults must be 0 or more seconds, not {self.retry_after}"
            )
        if not (isinstance(self.hold, int | float) and math.isfinite(self.hold) and self.hold >= 0):
            raise ConfigError(f"the timeout hold must be 0 or more seconds, not {self.hold!r}")
        # Kinds in the fixed order the draws use, whatever order the caller gave.
        ordered = {kind: float(self.shares[kind]) for kind in KINDS if kind in self.shares}
        object.__setattr__(self, "shares", ordered)

    @classmethod
    def parse(
        cls,
        spec: str,
        seed: int | None = None,
        retry_after: int = DEFAULT_RETRY_AFTER,
        hold: float = DEFAULT_HOLD,
    ) -> Faults:
        """Faults from `500=0.2,timeout=0.05`; a ConfigError in one line when the spec is wrong.

        An empty spec (or `none`) means no fault.
        """
        shares: dict[str, float] = {}
        text = spec.strip()
        if text.lower() in ("", "none"):
            return cls({}, seed, retry_after, hold)
        for item in text.split(","):
            kind, equals, value = (part.strip() for part in item.partition("="))
            if not equals or not kind or not value:
                raise ConfigError(
                    f"bad fault {item.strip()!r} in {spec!r}: write KIND=SHARE[,KIND=SHARE...], "
                    f"e.g. 500=0.1,429=0.05 (kinds: {', '.join(KINDS)})"
                )
            if kind not in KINDS:
                raise ConfigError(
                    f"unknown fault {kind!r} in {spec!r}; the faults are {', '.join(KINDS)}"
                )
            if kind in shares:
                raise ConfigError(f"fault {kind} is given twice in {spec!r}")
            try:
                share = float(value)
            except ValueError:
                raise ConfigError(
                    f"the share of fault {kind} must be a number from 0 to 1, not {value!r}"
                ) from None
            shares[kind] = share
        return cls(shares, seed, retry_after, hold)

    @property
    def total(self) -> float:
        """The share of requests that get a fault."""
        return sum(self.shares.values())

    def spec(self) -> str:
        """The spec string, as `parse` reads it (`none` when there is no fault)."""
        return ",".join(f"{kind}={share:g}" for kind, share in self.shares.items()) or "none"

    def arguments(self) -> list[str]:
        """The `kafkatrade market` arguments that give a server these faults."""
        arguments = ["--faults", self.spec(), "--fault-retry-after", str(self.retry_after)]
        arguments += ["--fault-hold", repr(float(self.hold))]
        if self.seed is not None:
            arguments += ["--fault-seed", str(self.seed)]
        return arguments

    def pick(self, u: float) -> str | None:
        """The fault of a request that drew `u` in [0, 1), or None for a normal answer."""
        edge = 0.0
        for kind, share in self.shares.items():
            edge += share
            if u < edge:
                return kind
        return None


def _check_share(kind: str, share: object) -> None:
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        raise ConfigError(f"the share of fault {kind} must be a number from 0 to 1, not {share!r}")


class FaultDraw:
    """The faults of a running server: draws one per faultable request and counts them.

    Thread-safe: the server answers each connection in its own thread.
    """

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._random = random.Random(faults.seed)
        self._lock = threading.Lock()
        self.requests = 0
        self.served: Counter[str] = Counter()

    def next(self) -> str | None:
        """The fault for the request being answered now (None: answer normally)."""
        with self._lock:
            kind = self.faults.pick(self._random.random())
            self.requests += 1
            if kind is not None:
                self.served[kind] += 1
            return kind

    def status(self) -> dict:
        """What `/status` says about faults: the spec and how many of each were served."""
        with self._lock:
            return {
                "spec": self.faults.spec(),
                "seed": self.faults.seed,
                "requests": self.requests,
                "served": {kind: self.served[kind] for kind in KINDS},
            }
