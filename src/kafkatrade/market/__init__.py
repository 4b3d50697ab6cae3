"""The market replay server: real market data replayed as an IEX-style quote API over HTTP."""

from kafkatrade.market.faults import FaultDraw, Faults
from kafkatrade.market.replay import Replay, ReplayClock, quote_document
from kafkatrade.market.server import ReplayServer, serve

__all__ = [
    "FaultDraw",
    "Faults",
    "Replay",
    "ReplayClock",
    "ReplayServer",
    "quote_document",
    "serve",
]
