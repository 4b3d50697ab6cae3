"""Typed settings, built once from the environment and the command line and passed down.

Every setting has one name used three ways: the field `bootstrap_servers`, the environment
variable `KAFKATRADE_BOOTSTRAP_SERVERS` and the flag `--bootstrap-servers`. A flag wins over
the environment, which wins over the default. No other module reads the environment.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "KAFKATRADE_"
# The bars the strategies can see (kafkatrade.trading.bars.PERIODS).
BARS = ("tick", "1m", "5m", "15m", "1h", "1d")
# Kafka's security.protocol values.
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


class ConfigError(ValueError):
    """A setting a user gave is wrong; the message says which and how to fix it."""


def _setting(default, help: str, *, secret: bool = False, group: str = "common"):
    return field(default=default, metadata={"help": help, "secret": secret, "group": group})


@dataclass(frozen=True)
class Settings:
    # Kafka
    bootstrap_servers: str | None = _setting(
        None, "Kafka bootstrap servers (default: the local stack, 127.0.0.1:<kafka-port>)"
    )
    security_protocol: str = _setting(
        "PLAINTEXT", "Kafka security.protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    sasl_mechanism: str | None = _setting(None, "Kafka sasl.mechanism, e.g. PLAIN or SCRAM-SHA-512")
    sasl_username: str | None = _setting(None, "Kafka SASL user name")
    sasl_password: str | None = _setting(None, "Kafka SASL password", secret=True)
    ssl_cafile: str | None = _setting(None, "CA file that signs the brokers' certificates")
    ssl_certfile: str | None = _setting(None, "client certificate file for mutual TLS")
    ssl_keyfile: str | None = _setting(None, "client private key file for mutual TLS")
    kafka_timeout: float = _setting(30.0, "seconds to wait for the Kafka cluster before giving up")
    stocks_topic: str = _setting("Stocks", "topic of the traded symbols (compacted, key = symbol)")
    quotes_topic: str = _setting("Quotes", "topic of the quotes (key = symbol)")
    orders_topic: str = _setting("Orders", "topic of the orders (key = symbol)")
    downloader_group: str = _setting("QuotesDownloader", "consumer group of the downloaders")
    bot_group: str = _setting("TradingBot", "consumer group of the trading bots")
    db_quotes_group: str = _setting("DbService-Quotes", "consumer group storing quotes")
    db_orders_group: str = _setting("DbService-Orders", "consumer group storing orders")
    # MongoDB
    mongo_uri: str | None = _setting(
        None,
        "MongoDB URI (default: the local stack, mongodb://127.0.0.1:<mongo-port>/)",
        secret=True,
    )
    mongo_db: str = _setting("kafkatrade", "MongoDB database of the quotes and orders")
    # Quote provider
    provider_url: str | None = _setting(
        None, "base URL of the IEX-style quote provider (default: the local market replay server)"
    )
    provider_api_key: str | None = _setting(None, "API key of the quote provider", secret=True)
    poll_interval: float = _setting(1.0, "seconds between two polls of the quote provider")
    http_timeout: float = _setting(5.0, "seconds before an HTTP call to the provider times out")
    # Trading
    strategies: str = _setting("sma_trend", "comma-separated strategies the bot runs")
    order_notional: float = _setting(
        10000.0, "money spent on each BUY order (the article's orderLimit)"
    )
    bar: str = _setting(
        "tick", "bars the strategies see: tick (a bar per quote), 1m, 5m, 15m, 1h or 1d"
    )
    max_position_value: float | None = _setting(
        None, "most a position (one symbol, one strategy) may be worth at entry (default: no cap)"
    )
    stop_loss_pct: float | None = _setting(
        None, "sell a long position whose close falls this many percent below entry"
    )
    take_profit_pct: float | None = _setting(
        None, "sell a long position whose close rises this many percent above entry"
    )
    # Observability
    metrics_port: int = _setting(0, "port of the /metrics, /healthz and /readyz endpoint (0: none)")
    # Local stack
    home: Path = _setting(
        Path(".stack"), "folder of the local stack's data, logs and pid files", group="stack"
    )
    cache_dir: Path = _setting(
        Path(".cache"),
        "folder of downloaded and built tools (Kafka, FerretDB, Helm)",
        group="stack",
    )
    kafka_port: int = _setting(9092, "port of the local Kafka broker", group="stack")
    kafka_controller_port: int = _setting(9093, "port of the local KRaft controller", group="stack")
    mongo_port: int = _setting(27017, "port of the local MongoDB-protocol server", group="stack")
    market_port: int = _setting(8080, "port of the local market replay server", group="stack")
    stocks_partitions: int = _setting(2, "partitions of the Stocks topic", group="stack")
    quotes_partitions: int = _setting(2, "partitions of the Quotes topic", group="stack")
    orders_partitions: int = _setting(2, "partitions of the Orders topic", group="stack")

    def __post_init__(self) -> None:
        for name in ("kafka_port", "kafka_controller_port", "mongo_port", "market_port"):
            port = getattr(self, name)
            if not 1 <= port <= 65535:
                raise ConfigError(f"{_named(name)} must be a port between 1 and 65535, not {port}")
        if not 0 <= self.metrics_port <= 65535:
            raise ConfigError(
                f"{_named('metrics_port')} must be between 0 and 65535, not {self.metrics_port}"
            )
        for name in ("stocks_partitions", "quotes_partitions", "orders_partitions"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{_named(name)} must be at least 1, not {getattr(self, name)}")
        for name in ("poll_interval", "http_timeout", "kafka_timeout", "order_notional"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{_named(name)} must be positive, not {getattr(self, name)}")
        for name in ("max_position_value", "stop_loss_pct", "take_profit_pct"):
            value = getattr(self, name)
            if value is not None and not (0 < value < math.inf):
                raise ConfigError(f"{_named(name)} must be a positive number, not {value}")
        if self.stop_loss_pct is not None and self.stop_loss_pct >= 100:
            raise ConfigError(
                f"{_named('stop_loss_pct')} is a percentage below 100, not {self.stop_loss_pct}"
            )
        if self.bar not in BARS:
            raise ConfigError(f"{_named('bar')} must be one of {', '.join(BARS)}, not {self.bar!r}")
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise ConfigError(
                f"{_named('security_protocol')} must be one of {', '.join(SECURITY_PROTOCOLS)}, "
                f"not {self.security_protocol!r}"
            )
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"{_named(name)}: no such file {path!r}")

    # Derived addresses: the local stack's unless given.
    @property
    def kafka_bootstrap(self) -> str:
        return self.bootstrap_servers or f"127.0.0.1:{self.kafka_port}"

    @property
    def mongo_address(self) -> str:
        return self.mongo_uri or f"mongodb://127.0.0.1:{self.mongo_port}/"

    @property
    def provider_base_url(self) -> str:
        return (self.provider_url or f"http://127.0.0.1:{self.market_port}").rstrip("/")

    @property
    def strategy_names(self) -> list[str]:
        return [name.strip() for name in self.strategies.split(",") if name.strip()]

    @classmethod
    def load(
        cls, environ: Mapping[str, str] | None = None, args: argparse.Namespace | None = None
    ) -> Settings:
        """Settings from the environment (default: os.environ), overridden by parsed flags."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw = getattr(args, f.name, None) if args is not None else None
            source = _flag(f.name)
            if raw is None and (ENV_PREFIX + f.name.upper()) in environ:
                raw = environ[ENV_PREFIX + f.name.upper()]
                source = ENV_PREFIX + f.name.upper()
            if raw is not None and raw != "":
                values[f.name] = _convert(f, raw, source)
        return cls(**values)

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """The environment that makes a child process load these same settings."""
        env = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is not None:
                env[ENV_PREFIX + f.name.upper()] = str(value)
        return env

    def redacted(self) -> dict[str, object]:
        """The settings as a dict with secrets masked, for logs."""
        return {
            f.name: (
                "***" if f.metadata["secret"] and getattr(self, f.name) else getattr(self, f.name)
            )
            for f in dataclasses.fields(self)
        }


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _named(name: str) -> str:
    """How a user set it: the flag or the environment variable."""
    return f"{_flag(name)} (or {ENV_PREFIX}{name.upper()})"


def _convert(f: dataclasses.Field, raw: object, source: str) -> object:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    parse = {"int": int, "float": float, "Path": lambda text: Path(str(text))}.get(
        kind.split(" ")[0], str
    )
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(f"{source}: {raw!r} is not a valid {kind.split(' ')[0]}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{source}: {raw!r} is not a finite number")
    return value


def add_arguments(parser: argparse.ArgumentParser, groups: Iterable[str] = ("common",)) -> None:
    """Adds a flag for every setting of the given groups; unset flags stay None."""
    wanted = set(groups)
    for f in dataclasses.fields(Settings):
        if f.metadata["group"] not in wanted:
            continue
        env = ENV_PREFIX + f.name.upper()
        default = "" if f.default is None else f" (default: {f.default})"
        parser.add_argument(
            _flag(f.name),
            dest=f.name,
            default=None,
            metavar=f.name.split("_")[-1].upper(),
            help=f"{f.metadata['help']}; env {env}{default}",
        )
