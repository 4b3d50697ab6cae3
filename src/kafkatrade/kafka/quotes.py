"""Reading back what is already on `Quotes`."""

from __future__ import annotations

from kafkatrade.config import Settings
from kafkatrade.kafka.history import read_history


def last_quote_times(settings: Settings, symbols: set[str]) -> dict[str, int]:
    """Per symbol, the event time (epoch ms) of its newest quote on `Quotes`, 0 if none.

    A downloader that takes over a symbol (after a restart or a rebalance) resumes from there,
    so it neither republishes old bars nor skips new ones. It reads the topic from the start:
    cheap at this project's scale; a compacted cursor topic would be the step beyond.
    """
    latest = dict.fromkeys(symbols, 0)
    keys = {symbol.encode() for symbol in symbols}
    for record in read_history(settings, settings.quotes_topic):
        if record.key in keys:
            # The downloader sets the record timestamp to the quote's event time.
            symbol = record.key.decode()
            latest[symbol] = max(latest[symbol], record.timestamp)
    return latest
