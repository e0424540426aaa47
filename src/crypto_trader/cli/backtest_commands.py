"""`crypto-trader backtest`, `strategies` and `demo`: strategies on stored candles.

None of these open the vault: a backtest needs no master key, and past runs live
in the database alone. numpy, pyarrow and the engine load inside the commands, so
other commands do not pay for them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from crypto_trader.cli.context import console, print_json, printable, say, state
from crypto_trader.clock import system_clock
from crypto_trader.errors import InputError
from crypto_trader.home import HOME_VARIABLE, Home

if TYPE_CHECKING:
    from crypto_trader.backtest.runner import Backtest
    from crypto_trader.backtest.runs import BacktestRun, BacktestRuns

backtest_app = typer.Typer(
    help="Backtest a strategy on stored candles; `backtest list` shows past runs.",
    invoke_without_command=True,
    no_args_is_help=True,
    subcommand_metavar="[list]",
)
strategies_app = typer.Typer(
    help="The strategies a backtest can run.", no_args_is_help=True
)

DEMO_STRATEGY = "sma_cross"
DEMO_REPORT = "demo-sma_cross.html"

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


StrategyOption = Annotated[
    str | None,
    typer.Option(
        metavar="NAME",
        help="A built-in (see `strategies list`) or path/to/file.py:ClassName.",
    ),
]

ExchangeOption = Annotated[
    str | None, typer.Option(metavar="EX", help="ccxt exchange id, e.g. coinbase.")
]

SymbolOption = Annotated[
    str | None, typer.Option(metavar="SYM", help="Market as BASE/QUOTE.")
]

TimeframeOption = Annotated[
    str | None, typer.Option(metavar="TF", help="Candle length, e.g. 1h.")
]

CashOption = Annotated[
    str, typer.Option(metavar="AMOUNT", help="Starting cash in the quote currency.")
]

FeeRateOption = Annotated[
    str, typer.Option(metavar="RATE", help="Fee per side, 0.001 = 0.1%.")
]

SlippageOption = Annotated[
    str, typer.Option(metavar="BPS", help="Slippage against each fill, in bps.")
]

FillOption = Annotated[
    str,
    typer.Option(
        metavar="next-open|close",
        help="Fill at the next candle's open or at the signal candle's close.",
    ),
]

StakeOption = Annotated[
    str,
    typer.Option(
        metavar="all|PCT%|AMOUNT",
        help="All-in, a share of equity (25%) or a quote amount (500).",
    ),
]

StartOption = Annotated[
    str | None,
    typer.Option(metavar="DATE", help="First open time, ISO 8601 UTC, inclusive."),
]

EndOption = Annotated[
    str | None,
    typer.Option(metavar="DATE", help="End, ISO 8601 UTC, exclusive."),
]


@backtest_app.callback()
def backtest(
    ctx: typer.Context,
    strategy: StrategyOption = None,
    exchange: ExchangeOption = None,
    symbol: SymbolOption = None,
    timeframe: TimeframeOption = None,
    param: Annotated[
        list[str] | None,
        typer.Option(metavar="NAME=VALUE", help="A strategy parameter; repeatable."),
    ] = None,
    cash: CashOption = "10000",
    fee_rate: FeeRateOption = "0.001",
    slippage_bps: SlippageOption = "0",
    fill: FillOption = "next-open",
    stake: StakeOption = "all",
    start: StartOption = None,
    end: EndOption = None,
    report: Annotated[
        Path | None,
        typer.Option(metavar="FILE.html", help="Write a self-contained HTML report."),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Backtest a strategy on stored candles and record the run.

    Without a command, runs one backtest; `backtest list` shows past runs.
    """
    if ctx.invoked_subcommand is not None:
        return
    from crypto_trader.backtest.runner import (
        build_strategy,
        parse_engine_config,
        parse_params,
        run_backtest,
    )
    from crypto_trader.market_data.candle_store import CandleStore
    from crypto_trader.market_data.series import series_id

    spec = _required("strategy", strategy)
    series_names = [
        _required(name, value)
        for name, value in (
            ("exchange", exchange),
            ("symbol", symbol),
            ("timeframe", timeframe),
        )
    ]
    config = parse_engine_config(cash, fee_rate, slippage_bps, fill, stake)
    start_ms, end_ms = _span(start, end)
    report_path = None if report is None else _report_path(report)
    series = series_id(*series_names)
    built = build_strategy(spec, parse_params(param or []))
    home = state(ctx).home
    run = run_backtest(
        CandleStore.for_home(home), series, built, config, start_ms, end_ms
    )
    _finish(home, run, report_path, json)


@backtest_app.command("list")
def list_runs(
    ctx: typer.Context,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the newest N runs.")
    ] = None,
    json: JsonOption = False,
) -> None:
    """List past backtests, the newest first."""
    with _runs(state(ctx).home) as runs:
        found = runs.newest_first(limit)
    if json:
        print_json([run.to_json() for run in found])
        return
    if not found:
        say("no backtests yet; see `crypto-trader backtest --help`")
        return
    for run in found:
        for line in _run_lines(run):
            say(line)


@strategies_app.command("list")
def list_strategies(json: JsonOption = False) -> None:
    """List the built-in strategies, their parameters and what they do."""
    from crypto_trader.backtest.strategies.registry import describe_strategies

    described: list[dict[str, Any]] = describe_strategies()
    if json:
        print_json(described)
        return
    table = Table("name", "parameters (default, range)", "what it does")
    for entry in described:
        params = "\n".join(
            f"{p['name']}={p['default']} ({p['low']}..{p['high']})"
            for p in entry["params"]
        )
        table.add_row(*_texts(entry["name"], params, entry["description"]))
    console.print(table)
    say("A file of your own: --strategy path/to/file.py:ClassName")


def demo(ctx: typer.Context) -> None:
    """Import the bundled sample candles, backtest sma_cross, write a report.

    Runs in a fresh temporary home unless --home or CRYPTO_TRADER_HOME names one.
    Needs no keys and no master key.
    """
    from crypto_trader.backtest.model import EngineConfig
    from crypto_trader.backtest.runner import build_strategy, run_backtest
    from crypto_trader.market_data.candle_store import CandleStore
    from crypto_trader.market_data.samples import (
        SAMPLE_ATTRIBUTION,
        SAMPLE_SERIES,
        install_sample,
    )
    from crypto_trader.secure_fs import ensure_private_dir

    home = _demo_home(ctx)
    store = CandleStore.for_home(home)
    if store.exists(SAMPLE_SERIES):
        # Never overwrite candles someone stored: the demo uses them as they are.
        say(f"{SAMPLE_SERIES} is already stored here; the demo uses those candles")
    else:
        summary = install_sample(store).summary.to_json()
        say(
            f"imported {summary['candles']} candles of {SAMPLE_SERIES} "
            f"({summary['first']} .. {summary['last']}): {SAMPLE_ATTRIBUTION}"
        )
    strategy = build_strategy(DEMO_STRATEGY, {})
    run = run_backtest(store, SAMPLE_SERIES, strategy, EngineConfig())
    report = ensure_private_dir(home.reports) / DEMO_REPORT
    _finish(home, run, report, as_json=False)
    options = (
        f"--exchange {SAMPLE_SERIES.exchange} --symbol {SAMPLE_SERIES.symbol} "
        f"--timeframe {SAMPLE_SERIES.timeframe}"
    )
    say(
        f"Next: crypto-trader --home {home.root} backtest --strategy rsi_reversion "
        f"{options} --report rsi.html"
    )


def _finish(home: Home, run: Backtest, report: Path | None, as_json: bool) -> None:
    """Write the report if asked, record the run, and print its metrics."""
    if report is not None:
        from crypto_trader.backtest.html_report import write_report
        from crypto_trader.backtest.report_data import report_data

        write_report(report, report_data(run))
    stored = _record(home, run, report)
    if as_json:
        print_json(
            {**run.to_json(), "run_id": stored.id, "report": stored.record.report}
        )
        return
    _print_metrics(run)
    say(f"recorded as run {stored.id}; see `crypto-trader backtest list`")
    if report is not None:
        say(f"report written to {report}; open it in a browser (works offline)")


def _print_metrics(run: Backtest) -> None:
    from crypto_trader.backtest.report_data import report_title
    from crypto_trader.backtest.runner import stake_text

    table = Table("metric", "value", title=_texts(report_title(run))[0])
    for label, value in run.metrics.labelled(run.series.symbol.quote):
        table.add_row(*_texts(label, format_value(value)))
    console.print(table)
    config = run.config
    stops = [
        f"{name} {value * 100:g}%"
        for name, value in (
            ("stop-loss", config.stop_loss),
            ("take-profit", config.take_profit),
            ("trailing stop", config.trailing_stop),
        )
        if value is not None
    ]
    say(
        f"conventions: {config.fill} fills, fee {config.fee_rate * 100:g}% per side, "
        f"slippage {config.slippage_bps:g} bps, stake {stake_text(config.stake)}, "
        f"{', '.join(stops) or 'no stops'}; see the README or the report"
    )


def _texts(*cells: str) -> list[Text]:
    """Cells shown as they are: no Rich markup, control characters escaped."""
    return [Text(printable(cell)) for cell in cells]


def format_value(value: object) -> str:
    """A metric for the table: floats to two places, None as n/a."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _record(home: Home, run: Backtest, report: Path | None) -> BacktestRun:
    from crypto_trader.backtest.runner import config_json
    from crypto_trader.backtest.runs import RunRecord

    record = RunRecord(
        strategy=run.strategy.name,
        params=dict(run.strategy.values),
        exchange=run.series.exchange,
        symbol=str(run.series.symbol),
        timeframe=str(run.series.timeframe),
        start=run.metrics.start,
        end=run.metrics.end,
        config=config_json(run.config),
        metrics=run.metrics.to_json(),
        report=None if report is None else str(report),
    )
    with _runs(home) as runs:
        return runs.add(record)


@contextmanager
def _runs(home: Home) -> Iterator[BacktestRuns]:
    """The home's stored runs; only the database is opened, never the vault."""
    from crypto_trader.backtest.runs import BacktestRuns
    from crypto_trader.storage.database import Database

    db = Database(home.ensure().database)
    try:
        yield BacktestRuns(db, system_clock)
    finally:
        db.close()


def _run_lines(run: BacktestRun) -> list[str]:
    """Two lines per run: what ran, on which candles; then what it achieved."""
    r = run.record
    params = ", ".join(f"{name}={value}" for name, value in r.params.items())
    m = r.metrics
    results = (
        f"    return {format_value(m.get('total_return_pct'))}%, max drawdown "
        f"{format_value(m.get('max_drawdown_pct'))}%, Sharpe "
        f"{format_value(m.get('sharpe'))}, {format_value(m.get('trades'))} trades"
    )
    if r.report:
        results += f", report {r.report}"
    return [
        f"{run.id}  {run.created_at}  {r.strategy}({params})  {r.exchange} "
        f"{r.symbol} {r.timeframe}  {r.start} .. {r.end}",
        results,
    ]


_REQUIRED_HINTS = {
    "strategy": "name a built-in (see `crypto-trader strategies list`) or "
    "path/to/file.py:ClassName",
    "exchange": "name the ccxt exchange id, e.g. coinbase",
    "symbol": "name the market as BASE/QUOTE, e.g. BTC/USD",
    "timeframe": "name the candle length, e.g. 1h",
}


def _required(name: str, value: str | None) -> str:
    """The value of a required run option, or an InputError saying what to give."""
    if value is None or not value.strip():
        raise InputError(f"--{name} is required: {_REQUIRED_HINTS[name]}")
    return value


def _span(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    from crypto_trader.market_data.timestamps import (
        format_timestamp_ms,
        parse_timestamp_ms,
    )

    start_ms = None if start is None else parse_timestamp_ms(start, "--start")
    end_ms = None if end is None else parse_timestamp_ms(end, "--end")
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise InputError(
            f"--end {format_timestamp_ms(end_ms)} must be after --start "
            f"{format_timestamp_ms(start_ms)} (--end is exclusive)"
        )
    return start_ms, end_ms


def _report_path(report: Path) -> Path:
    path = report.expanduser().absolute()
    if path.suffix.lower() not in {".html", ".htm"}:
        raise InputError(
            f"--report: name an .html file, such as report.html; got {report}"
        )
    if not path.parent.is_dir():
        raise InputError(
            f"--report: folder {path.parent} does not exist; create it or name another"
        )
    if path.is_dir():
        raise InputError(f"--report: {path} is a folder; name an .html file")
    return path


def _demo_home(ctx: typer.Context) -> Home:
    """The home named by --home or CRYPTO_TRADER_HOME, else a fresh temporary one."""
    if ctx.find_root().params.get("home") or os.environ.get(HOME_VARIABLE):
        home = state(ctx).home
        say(f"demo home: {home.root}")
        return home
    from crypto_trader.diagnostic_log import configure as configure_logging

    home = Home(Path(tempfile.mkdtemp(prefix="crypto-trader-demo-"))).ensure()
    configure_logging(home.logs, "INFO", state(ctx).verbose)
    say(f"demo home: {home.root} (a fresh temporary folder; delete it when done)")
    return home
