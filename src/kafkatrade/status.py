"""`kafkatrade status`: what runs where and how far behind, read from the broker alone.

Groups and their members, the symbols each downloader owns (the contents of its `Stocks`
partitions), lag per group and partition, and the age of each symbol's last quote.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from kafkatrade.config import Settings
from kafkatrade.kafka.groups import describe_groups
from kafkatrade.kafka.lag import LagReader
from kafkatrade.kafka.quotes import last_quote_times
from kafkatrade.models import format_time, from_epoch_ms
from kafkatrade.symbols import read_catalogue


def collect(settings: Settings, now: datetime | None = None) -> dict:
    """The status as plain data (what `--json` prints)."""
    now = now or datetime.now(UTC)
    inputs = {
        settings.downloader_group: settings.stocks_topic,
        settings.bot_group: settings.quotes_topic,
        settings.db_quotes_group: settings.quotes_topic,
        settings.db_orders_group: settings.orders_topic,
    }
    groups = describe_groups(settings, list(inputs))
    table, _ = read_catalogue(settings)
    with LagReader(settings) as lag:
        # The downloaders commit nothing: they re-read their Stocks partitions on assignment.
        lags = {
            group: lag.group_lag(group, topic)
            for group, topic in inputs.items()
            if group != settings.downloader_group
        }
    owners = {}
    for member in groups[settings.downloader_group].members:
        for partition in member.partitions.get(settings.stocks_topic, []):
            for symbol in table.by_partition.get(partition, ()):
                owners[symbol] = member.client_id
    symbols = sorted(table.symbols())
    last = last_quote_times(settings, set(symbols)) if symbols else {}
    return {
        "groups": {
            group_id: {
                "topic": inputs[group_id],
                "state": group.state,
                "members": [dataclasses.asdict(m) for m in group.members],
                "lag": {str(p): n for p, n in sorted(lags[group_id].items())}
                if group_id in lags
                else None,
            }
            for group_id, group in groups.items()
        },
        "symbols": {
            symbol: {
                "partition": table.partition_of(symbol),
                "downloader": owners.get(symbol),
                "last_quote": format_time(from_epoch_ms(last[symbol])) if last[symbol] else None,
                "age_seconds": round((now - from_epoch_ms(last[symbol])).total_seconds())
                if last[symbol]
                else None,
            }
            for symbol in symbols
        },
    }


def render(status: dict) -> str:
    """Two tables: groups with their members and lag, then symbols with owner and quote age."""
    lines = [f"{'group':<24} {'state':<12} {'lag per partition':<20} members"]
    for group_id, group in status["groups"].items():
        lag = " ".join(f"{p}:{n}" for p, n in (group["lag"] or {}).items()) or "-"
        members = "; ".join(
            f"{m['client_id']}@{m['host']} "
            + ",".join(str(p) for parts in m["partitions"].values() for p in parts)
            for m in group["members"]
        )
        lines.append(f"{group_id:<24} {group['state']:<12} {lag:<20} {members or '-'}")
    lines += ["", f"{'symbol':<8} {'partition':>9} {'downloader':<24} {'last quote':<22} age"]
    for symbol, row in status["symbols"].items():
        age = "-" if row["age_seconds"] is None else _duration(row["age_seconds"])
        lines.append(
            f"{symbol:<8} {row['partition']!s:>9} {row['downloader'] or '-':<24} "
            f"{row['last_quote'] or '-':<22} {age}"
        )
    return "\n".join(lines)


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds}s"
