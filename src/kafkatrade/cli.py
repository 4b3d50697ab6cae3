"""`kafkatrade`: the one command of the project, a sub-command per process or task.

User mistakes (bad settings, unknown strategy, unreadable files, unreachable services) end
in one line on stderr and a non-zero exit; only bugs show a traceback.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import re
import signal
import sys
from pathlib import Path

from kafkatrade import __version__
from kafkatrade.config import ConfigError, Settings, add_arguments

EXIT_USAGE = 2
EXIT_FAILED = 1


INSTANCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def _instance(text: str) -> str:
    """A replica's name: part of its client ids and of the bot's transactional id."""
    if not INSTANCE.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a replica name: letters, digits, '.', '_' or '-', up to 63"
        )
    return text


def _writable_folder(path: Path, flag: str) -> None:
    """Creates the output folder now, so a wrong one fails before the work, in one line."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path}: is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"{flag} {path}: cannot create the folder ({error.strerror})") from None
    if not os.access(path, os.W_OK):
        raise ConfigError(f"{flag} {path}: the folder is not writable")


def _writable_file(path: Path, flag: str) -> None:
    """Checks before the work that the output file can be written where it goes."""
    folder = path.parent
    if path.is_dir():
        raise ConfigError(f"{flag} {path}: is a folder, not a file")
    if not folder.is_dir():
        raise ConfigError(f"{flag} {path}: no folder {folder}")
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"{flag} {path}: the folder {folder} is not writable")


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


def _faults(args: argparse.Namespace):
    """The market's faults from --faults and its companions; a bad spec is one line."""
    from kafkatrade.market.faults import Faults

    return Faults.parse(
        args.faults or "",
        seed=args.fault_seed,
        retry_after=args.fault_retry_after,
        hold=args.fault_hold,
    )


def _cmd_market(args: argparse.Namespace) -> int:
    from kafkatrade.market.replay import check_rate
    from kafkatrade.market.server import serve
    from kafkatrade.marketdata import load

    settings = _settings(args)
    check_rate(args.rate)
    faults = _faults(args)
    data = load(args.data)
    print(
        f"replaying {sum(len(b) for b in data.values())} bars of {len(data)} symbols "
        f"on http://{args.host}:{settings.market_port} at {args.rate:g} steps/s"
        + (f" with faults {faults.spec()}" if faults.shares else ""),
        flush=True,
    )
    serve(data, host=args.host, port=settings.market_port, rate=args.rate, faults=faults)
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
        elif len(args.items) == 1 and not args.items[0].isupper():
            raise symbols.SymbolsError(f"{args.items[0]}: no such file, and not a symbol")
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


def _quote_source(args: argparse.Namespace):
    from kafkatrade.backtest import QuoteSource

    if args.mongo:
        return QuoteSource("mongo")
    if args.topic is not None:
        return QuoteSource("topic", topic=args.topic or None)
    return QuoteSource("data", path=args.data)


def _cmd_backtest(args: argparse.Namespace) -> int:
    from kafkatrade import backtest

    settings = _settings(args)
    source = _quote_source(args)
    evaluation = backtest.backtest(settings, source, args.strategy)
    if args.json:
        print(json.dumps(evaluation.to_dict(), indent=2))
    else:
        print(backtest.table(evaluation))
        print(
            f"\n{len(evaluation.orders)} orders of {', '.join(evaluation.strategies)} over "
            f"{source.describe(settings)}; return = P&L / capital "
            f"(notional x strategies per symbol); `--json` for the definitions and the orders"
        )
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from kafkatrade import report

    settings = _settings(args)
    _writable_folder(args.out, "--out")
    source = _quote_source(args)
    written = report.report_of_source(settings, source, args.strategy, args.out)
    print(f"report of {source.describe(settings)} in {written.path} ({len(written.charts)} charts)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from kafkatrade import pipeline
    from kafkatrade.marketdata import load
    from kafkatrade.strategies import check_names
    from kafkatrade.symbols import read_symbols_file

    settings = _settings(args)
    check_names(settings.strategy_names)
    faults = _faults(args)
    _writable_file(args.summary, "--summary")
    if args.report is not None:
        _writable_folder(args.report, "--report")
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
        report_dir=args.report,
        faults=faults if faults.shares else None,
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


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The quotes of a backtest or report (one source), and the strategies to run."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--data",
        type=Path,
        help="market data file or folder, as `run --data` reads (default source: "
        "matplotlib's Yahoo Finance samples, 11 symbols)",
    )
    source.add_argument(
        "--topic",
        nargs="?",
        const="",
        metavar="TOPIC",
        help="the records retained on a quotes topic (no name: the Quotes topic setting)",
    )
    source.add_argument(
        "--mongo",
        action="store_true",
        help="the quotes stored in MongoDB (report: with the orders the live bot stored)",
    )
    parser.add_argument(
        "--strategy",
        action="append",
        metavar="NAME[:param=value...]",
        help="a strategy to run, repeatable (default: the strategies setting, "
        "KAFKATRADE_STRATEGIES)",
    )


def _add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """The replay server's fault injection (kafkatrade.market.faults): market and run."""
    parser.add_argument(
        "--faults",
        metavar="KIND=SHARE[,...]",
        help="answer a share of the requests (all but /status) with a fault; KIND is 500, 429 "
        "(with Retry-After), timeout (no answer) or truncated (JSON cut in the middle), SHARE "
        "from 0 to 1, at most 1 in total; e.g. 500=0.1,timeout=0.05 (default: none)",
    )
    parser.add_argument(
        "--fault-seed",
        type=int,
        metavar="N",
        help="seed of the fault draws, for a reproducible sequence (default: random)",
    )
    parser.add_argument(
        "--fault-retry-after",
        type=int,
        default=1,
        metavar="SECONDS",
        help="the Retry-After of the 429 faults, whole seconds (default: 1)",
    )
    parser.add_argument(
        "--fault-hold",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long a timeout fault holds the request before closing it unanswered; "
        "longer than the client's timeout (default: 10)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kafkatrade",
        allow_abbrev=False,  # `run --rat 5` is a typo, not `--rate 5`
        description="Automated stock trading: QuotesDownloader -> Quotes -> TradingBot -> "
        "Orders, stored by DbService in MongoDB, on Apache Kafka.",
        epilog="Every setting is also read from the environment as KAFKATRADE_<NAME>, "
        "e.g. KAFKATRADE_BOOTSTRAP_SERVERS.",
    )
    parser.add_argument("--version", action="version", version=f"kafkatrade {__version__}")
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        parser_class=functools.partial(argparse.ArgumentParser, allow_abbrev=False),
    )

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
        "--report",
        type=Path,
        help="folder of the report written at the end, report.md and charts "
        "(default: <home>/report, i.e. .stack/report)",
    )
    run.add_argument(
        "--follow",
        action="store_true",
        help="keep the stack and services running after the run, until Ctrl-C",
    )
    _add_fault_arguments(run)
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
        help="Yahoo-style CSV, long CSV (timestamp,symbol,price[,volume]), wide CSV "
        "(Date,<symbol>,...) or a folder of them (default: matplotlib's samples)",
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
    _add_fault_arguments(market)
    market.set_defaults(handler=_cmd_market)

    service_help = {
        "downloader": "QuotesDownloader: poll the provider for this replica's symbols",
        "bot": "TradingBot: turn quotes into orders with the configured strategies",
        "dbservice": "DbService: store quotes and orders in MongoDB",
    }
    for name, text in service_help.items():
        service = commands.add_parser(name, help=text, description=text)
        service.add_argument(
            "--instance",
            default="1",
            type=_instance,
            help="name of this replica, used in logs and client ids (and the bot's "
            "transactional id: each replica its own)",
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

    backtest = commands.add_parser(
        "backtest",
        help="run the bot's strategies over a data file, the Quotes topic or MongoDB",
        description="Replays quotes through the very engine the TradingBot runs and prints, "
        "per symbol and in total: round-trip trades, win rate, realized and unrealized P&L "
        "(open positions marked to the last close), return = P&L / capital (capital = notional "
        "x strategies per symbol), max drawdown of the equity curve marked to every close, "
        "Sharpe of the per-bar equity returns annualized with sqrt(bars per year) from each "
        "symbol's median bar spacing (252 daily, 52 weekly, 12 monthly), exposure (share of "
        "bars in a position), and buy and hold of the same capital from the first close.",
    )
    _add_source_arguments(backtest)
    backtest.add_argument(
        "--json",
        action="store_true",
        help="print the figures, their definitions and every order as JSON",
    )
    add_arguments(backtest, ("common", "stack"))
    backtest.set_defaults(handler=_cmd_backtest)

    report = commands.add_parser(
        "report",
        help="write report.md and PNG charts of a live run (--mongo) or of a backtest",
        description="--mongo: the quotes and the orders stored in MongoDB by a live run; "
        "--data/--topic: a backtest over those quotes. Writes report.md (the backtest's "
        "figures and their definitions) and, per symbol, a chart of the closes with the "
        "strategies' indicator and a marker per order above the equity against buy and hold.",
    )
    _add_source_arguments(report)
    report.add_argument(
        "--out",
        type=Path,
        default=Path("report"),
        help="folder to write report.md and the charts into (default: report)",
    )
    add_arguments(report, ("common", "stack"))
    report.set_defaults(handler=_cmd_report)

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
    from kafkatrade.backtest import NoQuotes
    from kafkatrade.db.mongo import DatabaseUnavailable
    from kafkatrade.kafka.clients import KafkaUnavailable
    from kafkatrade.kafka.groups import GroupInUse
    from kafkatrade.marketdata import DataFormatError
    from kafkatrade.pipeline import PipelineError
    from kafkatrade.services.bot import BotFenced
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
        GroupInUse,
        StackError,
        PipelineError,
        NoQuotes,
        BotFenced,
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
