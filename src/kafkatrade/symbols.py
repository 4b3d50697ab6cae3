"""The `Stocks` topic as the catalogue of traded symbols: keyed, compacted, balanced.

The article seeds `Stocks` with the console producer and relies on round-robin for balance.
Here every symbol is the key of its record, so compaction keeps one record per symbol and a
tombstone removes it; the publisher places each new symbol on the partition that holds the
fewest, so the downloaders' shares stay even.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from kafkatrade.config import Settings
from kafkatrade.kafka import clients
from kafkatrade.kafka.history import MissingTopic, partition_count, read_history
from kafkatrade.models import InvalidRecord, validate_symbol


class SymbolsError(ValueError):
    """A symbol or symbols file the user gave is wrong."""


class SymbolTable:
    """Symbols per partition, as the records of `Stocks` say (last record of a key wins)."""

    def __init__(self) -> None:
        self.by_partition: dict[int, set[str]] = {}

    def apply(self, partition: int, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        symbol = key.decode("utf-8", errors="replace")
        symbols = self.by_partition.setdefault(partition, set())
        if value is None:
            symbols.discard(symbol)
        else:
            symbols.add(symbol)

    def drop(self, partition: int) -> None:
        self.by_partition.pop(partition, None)

    def symbols(self) -> set[str]:
        return set().union(*self.by_partition.values()) if self.by_partition else set()

    def partition_of(self, symbol: str) -> int | None:
        for partition, symbols in self.by_partition.items():
            if symbol in symbols:
                return partition
        return None


def read_catalogue(settings: Settings) -> tuple[SymbolTable, int]:
    """The current contents of `Stocks` and its partition count, read from the beginning."""
    try:
        partitions = partition_count(settings, settings.stocks_topic)
        table = SymbolTable()
        table.by_partition = {p: set() for p in range(partitions)}
        for record in read_history(settings, settings.stocks_topic):
            table.apply(record.partition, record.key, record.value)
    except MissingTopic as error:
        raise SymbolsError(str(error)) from None
    return table, partitions


def parse_symbols(words: Iterable[str], origin: str = "command line") -> list[str]:
    """Validated symbols without duplicates, in the order given."""
    result: list[str] = []
    for word in words:
        try:
            symbol = validate_symbol(word.strip())
        except InvalidRecord as error:
            raise SymbolsError(f"{origin}: {error}") from None
        if symbol not in result:
            result.append(symbol)
    if not result:
        raise SymbolsError(f"{origin}: no symbol given")
    return result


def read_symbols_file(path: Path) -> list[str]:
    """One symbol a line; blank lines and `#` comments are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise SymbolsError(f"cannot read symbols file {path}: {error}") from None
    symbols = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if text:
            symbols += parse_symbols([text], origin=f"{path}:{number}")
    if not symbols:
        raise SymbolsError(f"{path}: no symbol in the file")
    return list(dict.fromkeys(symbols))


def publish(settings: Settings, symbols: list[str]) -> dict[str, int]:
    """Adds the symbols to `Stocks`, each new one on the least loaded partition.

    Returns each symbol's partition. A symbol already there stays where it is, so that its
    tombstone, later, lands on the partition that holds it.
    """
    table, partitions = read_catalogue(settings)
    placement: dict[str, int] = {}
    producer = clients.producer(settings)
    try:
        for symbol in symbols:
            partition = table.partition_of(symbol)
            if partition is None:
                partition = min(
                    range(partitions), key=lambda p: (len(table.by_partition.get(p, ())), p)
                )
                producer.send(
                    settings.stocks_topic, key=symbol, value=symbol.encode(), partition=partition
                )
                table.apply(partition, symbol.encode(), symbol.encode())
            placement[symbol] = partition
        producer.flush()
    finally:
        producer.close()
    return placement


def remove(settings: Settings, symbol: str) -> int:
    """Writes the tombstone that removes `symbol`; the partition it was on."""
    table, _ = read_catalogue(settings)
    partition = table.partition_of(symbol)
    if partition is None:
        raise SymbolsError(f"symbol {symbol} is not in {settings.stocks_topic}")
    producer = clients.producer(settings)
    try:
        producer.send(settings.stocks_topic, key=symbol, value=None, partition=partition)
        producer.flush()
    finally:
        producer.close()
    return partition
