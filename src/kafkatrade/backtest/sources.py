"""Where a backtest's quotes come from: a data file, the retained Quotes topic, or MongoDB.

Each source gives, per symbol, its quotes in the order the bot would see them: a data file's
bars oldest first, a topic's records in offset order (a symbol's quotes share a key, so one
partition holds them in order), the stored quotes by timestamp.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pymongo import ASCENDING
from pymongo.database import Database

from kafkatrade.config import Settings
from kafkatrade.db import mongo
from kafkatrade.kafka.history import MissingTopic, read_history
from kafkatrade.marketdata import load
from kafkatrade.models import InvalidRecord, Quote, format_time

log = logging.getLogger(__name__)

QuotesBySymbol = dict[str, list[Quote]]


class NoQuotes(LookupError):
    """The source a user named holds no quotes to test on (empty topic or database)."""


@dataclass(frozen=True)
class QuoteSource:
    """One of: `data` (a file or folder, None = the default data), `topic`, `mongo`."""

    kind: Literal["data", "topic", "mongo"] = "data"
    path: Path | None = None
    topic: str | None = None

    def describe(self, settings: Settings) -> str:
        if self.kind == "data":
            return f"data {self.path}" if self.path else "the default data"
        if self.kind == "topic":
            return f"topic {self.topic or settings.quotes_topic}"
        return f"MongoDB {settings.mongo_db}.{mongo.QUOTES}"


def quotes_of_data(path: Path | None) -> QuotesBySymbol:
    """The bars of a data file or folder (None: the default data) as quotes."""
    data = load(path)
    return {
        symbol: [bar.to_quote(symbol, source="backtest") for bar in bars]
        for symbol, bars in data.items()
    }


def quotes_of_topic(settings: Settings, topic: str) -> QuotesBySymbol:
    """The retained records of `topic`, per symbol in offset order; bad records skipped."""
    quotes: QuotesBySymbol = defaultdict(list)
    try:
        for record in read_history(settings, topic):
            try:
                quote = Quote.from_json(record.value)
            except InvalidRecord as error:
                log.warning(
                    "skipped partition=%d offset=%d reason=%r",
                    record.partition,
                    record.offset,
                    str(error),
                )
                continue
            quotes[quote.symbol].append(quote)
    except MissingTopic as error:
        raise NoQuotes(str(error)) from None
    return dict(quotes)


def stored_quotes(db: Database) -> QuotesBySymbol:
    """The quotes stored in MongoDB, per symbol by timestamp."""
    quotes: QuotesBySymbol = defaultdict(list)
    cursor = (
        db[mongo.QUOTES]
        .find({}, {"_id": False})
        .sort([("symbol", ASCENDING), ("timestamp", ASCENDING)])
    )
    for document in cursor:
        # Through the model's parser: a stored quote is validated like one read from Kafka.
        document["timestamp"] = format_time(document["timestamp"])
        quote = Quote.from_json(json.dumps(document))
        quotes[quote.symbol].append(quote)
    return dict(quotes)


def read_quotes(settings: Settings, source: QuoteSource) -> QuotesBySymbol:
    """The quotes of `source`; NoQuotes when it holds none."""
    if source.kind == "data":
        quotes = quotes_of_data(source.path)
    elif source.kind == "topic":
        quotes = quotes_of_topic(settings, source.topic or settings.quotes_topic)
    else:
        db = mongo.connect(settings)
        try:
            quotes = stored_quotes(db)
        finally:
            db.client.close()
    if not any(quotes.values()):
        raise NoQuotes(f"{source.describe(settings)} holds no quotes")
    return quotes
