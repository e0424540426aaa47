"""`crypto-trader optimize`: search a strategy's parameters on stored candles.

Takes the backtest's options (costs, stake, fill, --start/--end) and ranges of
parameters; shows a progress bar on a terminal, then the best parameters and the
top ten, or with --walk-forward K the in- and out-of-sample figures per fold.
Like a backtest, it never opens the vault.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from crypto_trader.cli import context
from crypto_trader.cli.backtest_commands import (
    CashOption,
    EndOption,
    ExchangeOption,
    FeeRateOption,
    FillOption,
    SlippageOption,
    StakeOption,
    StartOption,
    StrategyOption,
    SymbolOption,
    TimeframeOption,
    _required,
    _span,
    format_value,
)
from crypto_trader.cli.context import console, print_json, say, state
from crypto_trader.errors import InputError

if TYPE_CHECKING:
    from crypto_trader.backtest.optimize import Optimization, Progress
    from crypto_trader.backtest.walk_forward import WalkForward

TOP = 10


def optimize(
    ctx: typer.Context,
    strategy: StrategyOption = None,
    exchange: ExchangeOption = None,
    symbol: SymbolOption = None,
    timeframe: TimeframeOption = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=START:STOP:STEP",
            help="A range to search, both ends included, or NAME=VALUE to fix one; "
            "repeatable.",
        ),
    ] = None,
    metric: Annotated[
        str, typer.Option(help="The metric to rank by (a numeric key of the JSON).")
    ] = "sharpe",
    method: Annotated[
        str, typer.Option(metavar="grid|random", help="Every combination or a sample.")
    ] = "grid",
    trials: Annotated[
        int, typer.Option(min=1, help="Combinations sampled by --method random.")
    ] = 100,
    seed: Annotated[int, typer.Option(help="Seed of --method random.")] = 0,
    jobs: Annotated[
        int | None, typer.Option(min=1, help="Worker processes; all cores by default.")
    ] = None,
    walk_forward: Annotated[
        int | None,
        typer.Option(
            metavar="K",
            help="Cut the candles into K folds; optimise on the folds before each "
            "and test on it.",
        ),
    ] = None,
    cash: CashOption = "10000",
    fee_rate: FeeRateOption = "0.001",
    slippage_bps: SlippageOption = "0",
    fill: FillOption = "next-open",
    stake: StakeOption = "all",
    start: StartOption = None,
    end: EndOption = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search a strategy's parameters for the best backtest metric."""
    from crypto_trader.backtest import optimize as opt
    from crypto_trader.backtest import walk_forward as wf
    from crypto_trader.backtest.runner import (
        build_strategy,
        load_candles,
        parse_engine_config,
        parse_params,
    )
    from crypto_trader.market_data.candle_store import CandleStore
    from crypto_trader.market_data.series import series_id

    spec = _required("strategy", strategy)
    names = [
        _required(name, value)
        for name, value in (
            ("exchange", exchange),
            ("symbol", symbol),
            ("timeframe", timeframe),
        )
    ]
    config = parse_engine_config(cash, fee_rate, slippage_bps, fill, stake)
    start_ms, end_ms = _span(start, end)
    ranked_by = opt.parse_metric(metric)
    if method not in {"grid", "random"}:
        raise InputError(f"--method: expected grid or random, got {method!r}")
    if walk_forward is not None and walk_forward < 2:
        raise InputError(
            f"--walk-forward: expected at least 2 folds, got {walk_forward}"
        )
    series = series_id(*names)
    cls = type(build_strategy(spec, {}))
    ranges = opt.parse_ranges(cls, parse_params(param or []))
    if method == "grid":
        search = opt.grid(cls, ranges)
    else:
        search = opt.random_sample(cls, ranges, trials, seed)
    store = CandleStore.for_home(state(ctx).home)
    candles = load_candles(store, series, start_ms, end_ms)
    work = opt.Work(cls, candles, series, config)
    workers = jobs or opt.default_jobs()

    with _progress_bar(json) as progress:
        if walk_forward is None:
            result = opt.optimize(work, search, ranked_by, workers, progress)
        else:
            folds = wf.walk_forward(
                work, search, ranked_by, walk_forward, workers, progress
            )
    if walk_forward is not None:
        _show_walk_forward(folds, json)
    else:
        _show(result, json)


@contextmanager
def _progress_bar(quiet: bool) -> Iterator[Progress | None]:
    """A bar on stderr when it is a terminal and JSON was not asked for."""
    if quiet or not context.errors.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("backtests"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=context.errors, transient=True) as bar:
        task = bar.add_task("backtests", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _show(result: Optimization, as_json: bool) -> None:
    if as_json:
        print_json(result.to_json(TOP))
        return
    best = result.best
    say(f"best by {result.metric}: {_params_text(best.params)}")
    say(
        f"evaluated {len(result.ranked)} combinations, skipped {result.skipped} "
        "invalid ones"
    )
    names = list(best.params)
    columns = ["rank", *names, result.metric, "return %", "max drawdown %", "trades"]
    table = context.SafeTable(*columns, title=f"top {TOP} by {result.metric}")
    for rank, evaluation in enumerate(result.ranked[:TOP], start=1):
        m = evaluation.metrics
        table.add_row(
            str(rank),
            *(str(evaluation.params[name]) for name in names),
            format_value(m.get(result.metric)),
            format_value(m.get("total_return_pct")),
            format_value(m.get("max_drawdown_pct")),
            format_value(m.get("trades")),
        )
    console.print(table)


def _show_walk_forward(result: WalkForward, as_json: bool) -> None:
    view = result.to_json()
    if as_json:
        print_json(view)
        return
    metric = result.metric
    table: Table = context.SafeTable(
        "fold",
        "in sample",
        "out of sample",
        "best params",
        f"in-sample {metric}",
        f"out-of-sample {metric}",
        title=f"walk-forward by {metric} (anchored in-sample windows)",
    )
    for fold in view["folds"]:
        table.add_row(
            str(fold["fold"]),
            _span_text(fold["in_sample"]),
            _span_text(fold["out_of_sample"]),
            _params_text(fold["params"]),
            format_value(fold["in_sample_metric"]),
            format_value(fold["out_of_sample_metric"]),
        )
    console.print(table)
    combined = view["out_of_sample"]
    say(
        f"combined out of sample: {metric} {format_value(combined[metric])}, return "
        f"{format_value(combined['total_return_pct'])}%, max drawdown "
        f"{format_value(combined['max_drawdown_pct'])}%, {combined['trades']} trades"
    )


def _params_text(params: dict[str, int | float]) -> str:
    return ", ".join(f"{name}={value}" for name, value in params.items())


def _span_text(span: dict[str, Any]) -> str:
    return f"{span['start'][:10]} .. {span['last_open'][:10]} ({span['candles']})"
