"""`kafkatrade`: the one command of the project, a sub-command per process or task.

User mistakes (bad settings, unknown strategy, unreadable files, unreachable services) end
in one line on stderr and a non-zero exit; only bugs show a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

from kafkatrade import __version__
from kafkatrade.config import ConfigError, Settings, add_arguments

EXIT_USAGE = 2
EXIT_FAILED = 1


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.load(args=args)


def _cmd_stack(args: argparse.Namespace) -> int:
    from kafkatrade.stack import Stack

    settings = _settings(args)
    stack = Stack(settings)
    if args.action == "provision":
        stack.provision(helm=True)  # everything the tests use, Helm for the chart included
    elif args.action == "up":
        stack.up()
    elif args.action == "down":
        stack.down()
    status = stack.status()
    print(json.dumps(status, indent=2, default=str))
    return 0


def _cmd_market(args: argparse.Namespace) -> int:
    from kafkatrade.market.replay import check_rate
    from kafkatrade.market.server import serve
    from kafkatrade.marketdata import load

    settings = _settings(args)
    check_rate(args.rate)
    data = load(args.data)
    print(
        f"replaying {sum(len(b) for b in data.values())} bars of {len(data)} symbols "
        f"on http://{args.host}:{settings.market_port} at {args.rate:g} steps/s",
        flush=True,
    )
    serve(data, host=args.host, port=settings.market_port, rate=args.rate)
    return 0


def _cmd_service(args: argparse.Namespace) -> int:
    from kafkatrade.services import bot, dbservice, downloader
    from kafkatrade.services.health import serve_health
    from kafkatrade.services.runtime import configure_logging, stop_on_signals
    from kafkatrade.strategies import check_names

    settings = _settings(args)
    if args.command == "bot":
        check_names(settings.strategy_names)
    configure_logging(args.command, args.instance)
    logging.getLogger(__name__).info("settings %s", settings.redacted())
    stop = stop_on_signals()
    service = {"downloader": downloader, "bot": bot, "dbservice": dbservice}[args.command]
    health = serve_health(settings.metrics_port)
    try:
        service.run(settings, args.instance, stop, health)
    finally:
        health.close()
    return 0


def _cmd_symbols(args: argparse.Namespace) -> int:
    from kafkatrade import symbols

    settings = _settings(args)
    if args.action == "publish":
        if len(args.items) == 1 and Path(args.items[0]).is_file():
            wanted = symbols.read_symbols_file(Path(args.items[0]))
        else:
            wanted = symbols.parse_symbols(args.items)
        for symbol, partition in symbols.publish(settings, wanted).items():
            print(f"{symbol}\tpartition {partition}")
    elif args.action == "list":
        table, _ = symbols.read_catalogue(settings)
        for partition, names in sorted(table.by_partition.items()):
            print(f"partition {partition}: {' '.join(sorted(names)) or '-'}")
    else:
        for symbol in symbols.parse_symbols(args.items):
            partition = symbols.remove(settings, symbol)
            print(f"removed {symbol} from partition {partition}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from kafkatrade import status

    report = status.collect(_settings(args))
    print(json.dumps(report, indent=2) if args.json else status.render(report))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from kafkatrade import pipeline
    from kafkatrade.marketdata import load
    from kafkatrade.strategies import check_names
    from kafkatrade.symbols import read_symbols_file

    settings = _settings(args)
    check_names(settings.strategy_names)
    # SIGTERM (from `timeout`, systemd, CI) unwinds like Ctrl-C, so the run stops what it started.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    data = load(args.data)
    wanted = read_symbols_file(args.symbols) if args.symbols else sorted(data)
    missing = [s for s in wanted if s not in data]
    if missing:
        print(
            f"warning: no data for {', '.join(missing)}: they will get no quotes", file=sys.stderr
        )
    options = pipeline.RunOptions(
        data=data,
        data_path=args.data,
        symbols=wanted,
        rate=args.rate,
        timeout=args.timeout,
        follow=args.follow,
        summary_path=args.summary,
    )
    summary = pipeline.run(settings, options)
    print()
    print(summary.table())
    print(
        f"\n{summary.totals['quotes']} quotes and {summary.totals['orders']} orders in "
        f"{summary.elapsed_seconds:.1f} s ({summary.quotes_per_second:g} quotes/s); "
        f"figures in {args.summary}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kafkatrade",
        description="Automated stock trading: QuotesDownloader -> Quotes -> TradingBot -> "
        "Orders, stored by DbService in MongoDB, on Apache Kafka.",
        epilog="Every setting is also read from the environment as KAFKATRADE_<NAME>, "
        "e.g. KAFKATRADE_BOOTSTRAP_SERVERS.",
    )
    parser.add_argument("--version", action="version", version=f"kafkatrade {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run the whole pipeline end to end on real market data (make run)",
        description="Starts the local stack, the market replay server, 2 downloaders, 2 bots "
        "and 1 dbservice; publishes the symbols; waits until MongoDB holds every quote and "
        "order; prints the figures and stops everything. Each run starts from empty topics "
        "and an empty database.",
    )
    run.add_argument(
        "--data",
        type=Path,
        help="market data file or folder (default: matplotlib's Yahoo Finance samples, 11 symbols)",
    )
    run.add_argument(
        "--symbols", type=Path, help="symbols file, one a line (default: every symbol of the data)"
    )
    run.add_argument(
        "--rate",
        type=float,
        default=100.0,
        help="replay speed in timeline steps per second; 0 = all at once (default: 100)",
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds to wait for the data to flow through (default: 900)",
    )
    run.add_argument(
        "--summary",
        type=Path,
        default=Path("run-summary.json"),
        help="where to write the figures as JSON (default: run-summary.json)",
    )
    run.add_argument(
        "--follow",
        action="store_true",
        help="keep the stack and services running after the run, until Ctrl-C",
    )
    add_arguments(run, ("common", "stack"))
    run.set_defaults(handler=_cmd_run)

    stack = commands.add_parser(
        "stack",
        help="the local stack: Kafka 4.4.0 (KRaft) and a MongoDB-protocol server",
        description="provision: download and build the tools into the cache folder; up: start "
        "the broker and FerretDB (or mongod) and create the topics; down: stop them; status: "
        "tell what runs.",
    )
    stack.add_argument("action", choices=["up", "down", "status", "provision"])
    add_arguments(stack, ("common", "stack"))
    stack.set_defaults(handler=_cmd_stack)

    market = commands.add_parser(
        "market",
        help="serve real market data over HTTP in the IEX style (replay server)",
        description="Endpoints: GET /stock/{symbol}/quote, /stock/market/batch?symbols=A,B&"
        "types=quote|bars&since=MS, /stock/{symbol}/bars?since=MS, /status.",
    )
    market.add_argument(
        "--data",
        type=Path,
        help="Yahoo-style CSV, long CSV "
        "(timestamp,symbol,price[,volume]) or a folder of them (default: "
        "matplotlib's samples)",
    )
    market.add_argument(
        "--rate",
        type=float,
        default=20.0,
        help="timeline steps per second; 0 = all data at once (default: 20)",
    )
    market.add_argument("--host", default="127.0.0.1", help="address to listen on")
    market.add_argument(
        "--market-port",
        dest="market_port",
        default=None,
        help="port to listen on; env KAFKATRADE_MARKET_PORT (default: 8080)",
    )
    market.add_argument("--port", dest="market_port", help=argparse.SUPPRESS)
    market.set_defaults(handler=_cmd_market)

    service_help = {
        "downloader": "QuotesDownloader: poll the provider for this replica's symbols",
        "bot": "TradingBot: turn quotes into orders with the configured strategies",
        "dbservice": "DbService: store quotes and orders in MongoDB",
    }
    for name, text in service_help.items():
        service = commands.add_parser(name, help=text, description=text)
        service.add_argument(
            "--instance", default="1", help="name of this replica, used in logs and client ids"
        )
        add_arguments(service, ("common", "stack"))
        service.set_defaults(handler=_cmd_service)

    status = commands.add_parser(
        "status",
        help="groups and members, each downloader's symbols, lag, last quote age",
        description="Reads the cluster: the consumer groups with their members and lag per "
        "partition, which downloader owns which symbol, and the age of each symbol's last quote.",
    )
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    add_arguments(status, ("common", "stack"))
    status.set_defaults(handler=_cmd_status)

    symbols = commands.add_parser(
        "symbols",
        help="manage the traded symbols on the Stocks topic",
        description="publish FILE|SYMBOL...: add symbols, each on the least loaded partition; "
        "list: show them per partition; remove SYMBOL...: write their tombstones.",
    )
    symbols.add_argument("action", choices=["publish", "list", "remove"])
    symbols.add_argument(
        "items", nargs="*", metavar="FILE|SYMBOL", help="a symbols file (one a line) or symbols"
    )
    add_arguments(symbols, ("common", "stack"))
    symbols.set_defaults(handler=_cmd_symbols)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a user's mistake can cause: reported in one line, no traceback."""
    from kafkatrade.db.mongo import DatabaseUnavailable
    from kafkatrade.kafka.clients import KafkaUnavailable
    from kafkatrade.marketdata import DataFormatError
    from kafkatrade.pipeline import PipelineError
    from kafkatrade.stack.errors import StackError
    from kafkatrade.strategies import UnknownStrategy
    from kafkatrade.symbols import SymbolsError

    return (
        ConfigError,
        UnknownStrategy,
        SymbolsError,
        DataFormatError,
        KafkaUnavailable,
        DatabaseUnavailable,
        StackError,
        PipelineError,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "symbols" and args.action != "list" and not args.items:
        parser.error(f"symbols {args.action} needs a file or at least one symbol")
    if args.handler is not _cmd_service:  # services set their own log format
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        # The client logs every failed connection attempt; our own error line says it once.
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("kafkatrade: interrupted", file=sys.stderr)
        return 130
    except _user_errors() as error:
        print(f"kafkatrade: error: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, ConfigError) else EXIT_FAILED
