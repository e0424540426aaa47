"""`crypto-trader data`: download, import, list, check and remove stored candles.

These commands need no master key and never open the vault (a download with
`--key` opens it through the exchange layer). numpy and pyarrow are imported
inside each command, so other commands do not pay for them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crypto_trader.cli import context
from crypto_trader.cli.context import print_json, say, state
from crypto_trader.errors import EXIT_FAILURE, CryptoTraderError, InputError
from crypto_trader.vault.secrets import redactions

if TYPE_CHECKING:
    from crypto_trader.market_data.candle_store import CandleStore, SeriesSummary
    from crypto_trader.market_data.download import (
        DownloadResult,
        OhlcvSource,
        ProgressCallback,
    )
    from crypto_trader.market_data.download_pool import DownloadJob, DownloadOutcome
    from crypto_trader.market_data.series import SeriesId

app = typer.Typer(help="Collect, import and inspect candles.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ExchangeOption = Annotated[
    str, typer.Option(help="ccxt exchange id, e.g. coinbase or binance.")
]
SymbolOption = Annotated[str, typer.Option(help="Market as BASE/QUOTE, e.g. BTC/USDT.")]
TimeframeOption = Annotated[
    str, typer.Option(help="Candle length: 1m 5m 15m 30m 1h 4h 1d 1w and more.")
]
SymbolsOption = Annotated[
    list[str],
    typer.Option(
        "--symbol", metavar="<str>", help="Market as BASE/QUOTE; repeat for several."
    ),
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        help="First open time, ISO 8601 UTC, inclusive (default: after the last "
        "stored candle, or 30 days ago for a new series)."
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option(
        help="End, ISO 8601 UTC, exclusive (default: up to the newest closed candle)."
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(help="Label of a stored key to sign with; public candles need none."),
]


@app.command("download")
def download(
    ctx: typer.Context,
    exchange: ExchangeOption,
    symbol: SymbolsOption,
    timeframe: TimeframeOption,
    since: SinceOption = None,
    until: UntilOption = None,
    key: KeyOption = None,
) -> None:
    """Download closed candles from an exchange into the store.

    A stored series continues from its last candle; --since before its first
    candle also fetches the earlier ones. The still-open candle is never stored.
    Several symbols download at once, within the exchange's rate limit.
    """
    from crypto_trader.market_data import download as downloads
    from crypto_trader.market_data.download_pool import DownloadJob

    wanted = [_series(exchange, one, timeframe) for one in symbol]
    since_ms, until_ms = _span_options(since, until)
    source = downloads.open_source(state(ctx).open(), wanted[0].exchange, key)
    jobs = [
        DownloadJob(series, source, since_ms, until_ms)
        for series in dict.fromkeys(wanted)
    ]
    try:
        _run_downloads(ctx, jobs, [])
    finally:
        source.close()


@app.command("update")
def update(
    ctx: typer.Context,
    exchange: Annotated[
        str | None, typer.Option(help="Only the series of this exchange.")
    ] = None,
) -> None:
    """Bring every stored series up to its newest closed candle."""
    from crypto_trader.exchange_ids import check_exchange
    from crypto_trader.market_data import download as downloads
    from crypto_trader.market_data.download_pool import DownloadJob, DownloadOutcome

    stored = _store(ctx).series()
    if exchange is not None:
        exchange_id = check_exchange(exchange)
        stored = [series for series in stored if series.exchange == exchange_id]
    if not stored:
        say("no stored series to update; see `crypto-trader data download --help`")
        return
    jobs: list[DownloadJob] = []
    unopened: list[DownloadOutcome] = []
    sources: list[OhlcvSource] = []
    try:
        for exchange_id, group in groupby(stored, key=lambda s: s.exchange):
            members = list(group)
            try:
                source = downloads.open_source(state(ctx).open(), exchange_id, None)
            except CryptoTraderError as exc:
                unopened += [DownloadOutcome(series, None, exc) for series in members]
                continue
            sources.append(source)
            jobs += [DownloadJob(series, source) for series in members]
        _run_downloads(ctx, jobs, unopened)
    finally:
        for source in sources:
            source.close()


@app.command("import")
def import_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A CSV or Parquet file of candles.")],
    exchange: ExchangeOption,
    symbol: SymbolOption,
    timeframe: TimeframeOption,
) -> None:
    """Import candles from a file; every row is checked, or nothing is stored.

    CSV needs a header: timestamp_ms (UTC epoch milliseconds) or timestamp
    (ISO 8601 with a zone), then open, high, low, close, volume.
    """
    from crypto_trader.market_data.candle_import import import_candles

    series = _series(exchange, symbol, timeframe)
    result = import_candles(_store(ctx), file, series)
    after = result.merge.summary.to_json()
    repeated = (
        f", {result.duplicates} repeated in the file" if result.duplicates else ""
    )
    say(
        f"imported {result.rows} candles from {file} into {series}: "
        f"{result.merge.added} new, {result.merge.replaced} replaced{repeated}"
    )
    say(
        f"{series} now has {after['candles']} candles from {after['first']} "
        f"to {after['last']}, {len(result.merge.summary.gaps)} gaps"
    )


@app.command("list")
def list_series(ctx: typer.Context, json: JsonOption = False) -> None:
    """List stored series: span, number of candles and gaps."""
    summaries = _store(ctx).summaries()
    if json:
        print_json([summary.to_json() for summary in summaries])
        return
    if not summaries:
        say("no candles stored yet; see `crypto-trader data import --help`")
        return
    rows = [_series_cells(summary) for summary in summaries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        say(
            "  ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )


@app.command("gaps")
def gaps(
    ctx: typer.Context,
    exchange: ExchangeOption,
    symbol: SymbolOption,
    timeframe: TimeframeOption,
    json: JsonOption = False,
) -> None:
    """Show the runs of missing candles of one series (first and last missing)."""
    series = _series(exchange, symbol, timeframe)
    summary = _store(ctx).summary(series)
    found = [gap.to_json() for gap in summary.gaps]
    if json:
        print_json(found)
        return
    if not found:
        say(f"{series}: no gaps in {summary.candles} candles")
        return
    say(f"{series}: {len(found)} gaps (first and last missing open time)")
    for gap in found:
        say(f"{gap['start']} .. {gap['end']}  {gap['missing']} missing")


@app.command("remove")
def remove(
    ctx: typer.Context,
    exchange: ExchangeOption,
    symbol: SymbolOption,
    timeframe: TimeframeOption,
) -> None:
    """Delete one stored series."""
    series = _series(exchange, symbol, timeframe)
    _store(ctx).remove(series)
    say(f"removed {series}")


def _span_options(
    since: str | None, until: str | None
) -> tuple[int | None, int | None]:
    from crypto_trader.market_data.timestamps import (
        format_timestamp_ms,
        parse_timestamp_ms,
    )

    since_ms = None if since is None else parse_timestamp_ms(since, "--since")
    until_ms = None if until is None else parse_timestamp_ms(until, "--until")
    if since_ms is not None and until_ms is not None and until_ms <= since_ms:
        raise InputError(
            f"--until {format_timestamp_ms(until_ms)} must be after --since "
            f"{format_timestamp_ms(since_ms)} (--until is exclusive)"
        )
    return since_ms, until_ms


def _run_downloads(
    ctx: typer.Context, jobs: Sequence[DownloadJob], failed: list[DownloadOutcome]
) -> None:
    """Download, say what each series got, and exit non-zero if any failed."""
    from crypto_trader.market_data.download_pool import download_all

    with _progress_bar() as progress:
        outcomes = download_all(
            _store(ctx), jobs, time.monotonic, time.sleep, progress=progress
        )
    for outcome in outcomes:
        if outcome.result is not None:
            say(_result_line(outcome.result))
    failures = [(o.series, o.error) for o in [*failed, *outcomes] if o.error]
    for series, error in failures:
        context.errors.print(f"error: {series}: {_failure_text(error)}", markup=False)
    codes = {getattr(error, "exit_code", EXIT_FAILURE) for _, error in failures}
    if codes:
        raise typer.Exit(codes.pop() if len(codes) == 1 else EXIT_FAILURE)


@contextmanager
def _progress_bar() -> Iterator[ProgressCallback | None]:
    """A progress bar per series on stderr when it is a terminal; else nothing."""
    if not context.errors.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    tasks: dict[SeriesId, TaskID] = {}
    lock = threading.Lock()
    with Progress(*columns, console=context.errors) as bar:

        def advance(series: SeriesId, covered: int, planned: int) -> None:
            with lock:
                if series not in tasks:
                    tasks[series] = bar.add_task(str(series), total=planned)
            bar.update(tasks[series], completed=covered, total=planned)

        yield advance


def _result_line(result: DownloadResult) -> str:
    requests = "1 request" if result.requests == 1 else f"{result.requests} requests"
    head = f"{result.series}: {result.added} new candles in {requests}"
    if result.summary is None:
        return f"{head}; nothing stored, the exchange has no closed candle there"
    view = result.summary.to_json()
    return (
        f"{head}; stored {view['first']} .. {view['last']}, "
        f"{view['candles']} candles, {_gaps_text(result.summary)}"
    )


def _failure_text(error: Exception) -> str:
    if isinstance(error, CryptoTraderError):
        return redactions.redact(str(error))
    return (
        f"internal error ({type(error).__name__}); details are in the log under "
        "logs/ in the home directory"
    )


def _gaps_text(summary: SeriesSummary) -> str:
    if not summary.gaps:
        return "no gaps"
    missing = sum(gap.missing for gap in summary.gaps)
    return f"{len(summary.gaps)} gaps, {missing} missing"


def _series(exchange: str, symbol: str, timeframe: str) -> SeriesId:
    from crypto_trader.market_data.series import series_id

    return series_id(exchange, symbol, timeframe)


def _store(ctx: typer.Context) -> CandleStore:
    from crypto_trader.market_data.candle_store import CandleStore

    return CandleStore.for_home(state(ctx).home)


def _series_cells(summary: SeriesSummary) -> list[str]:
    view = summary.to_json()
    return [
        str(view["exchange"]),
        str(view["symbol"]),
        str(view["timeframe"]),
        f"{view['first']} .. {view['last']}",
        f"{view['candles']} candles",
        _gaps_text(summary),
    ]
