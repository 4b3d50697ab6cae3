"""The bot's state changelog: a compacted topic holding the latest state of every symbol.

As in Kafka Streams, the changelog is partitioned like its input: the states of the symbols of
`Quotes` partition p are in changelog partition p, keyed by symbol, so a bot given partition p
restores exactly what it needs. The bot writes a state in the same transaction as the orders
and the consumed offsets that go with it, so the state read back always matches the group's
committed offset.
"""

from __future__ import annotations

from kafkatrade.config import Settings
from kafkatrade.kafka.history import read_history
from kafkatrade.kafka.topics import bot_changelog


def read_states(settings: Settings, partition: int) -> dict[str, bytes]:
    """The latest state of each symbol of `partition` (a tombstone removes a symbol)."""
    states: dict[str, bytes] = {}
    for record in read_history(settings, bot_changelog(settings).name, only=[partition]):
        symbol = record.key.decode()
        if record.value is None:
            states.pop(symbol, None)
        else:
            states[symbol] = record.value
    return states
