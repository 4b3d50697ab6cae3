"""Reading back what is already on `Quotes`."""

from __future__ import annotations

from kafka import TopicPartition

from kafkatrade.config import Settings
from kafkatrade.kafka import clients


def last_quote_times(settings: Settings, symbols: set[str]) -> dict[str, int]:
    """Per symbol, the event time (epoch ms) of its newest quote on `Quotes`, 0 if none.

    A downloader that takes over a symbol (after a restart or a rebalance) resumes from there,
    so it neither republishes old bars nor skips new ones. It reads the topic from the start:
    cheap at this project's scale; a compacted cursor topic would be the step beyond.
    """
    latest = dict.fromkeys(symbols, 0)
    keys = {symbol.encode() for symbol in symbols}
    consumer = clients.consumer(settings, group_id=None)
    try:
        partitions = [
            TopicPartition(settings.quotes_topic, p)
            for p in sorted(consumer.partitions_for_topic(settings.quotes_topic))
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    if record.offset < end[tp] and record.key in keys:
                        symbol = record.key.decode()
                        # The downloader sets the record timestamp to the quote's event time.
                        latest[symbol] = max(latest[symbol], record.timestamp)
        return latest
    finally:
        consumer.close()
