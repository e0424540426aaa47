"""`crypto-trader data`: import, list, check and remove stored candles.

These commands need no master key and never open the vault. numpy and pyarrow
are imported inside each command, so other commands do not pay for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crypto_trader.cli.context import print_json, say, state

if TYPE_CHECKING:
    from crypto_trader.market_data.candle_store import CandleStore, SeriesSummary
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


def _series(exchange: str, symbol: str, timeframe: str) -> SeriesId:
    from crypto_trader.market_data.series import series_id

    return series_id(exchange, symbol, timeframe)


def _store(ctx: typer.Context) -> CandleStore:
    from crypto_trader.market_data.candle_store import CandleStore

    return CandleStore.for_home(state(ctx).home)


def _series_cells(summary: SeriesSummary) -> list[str]:
    view = summary.to_json()
    gaps = "no gaps"
    if summary.gaps:
        missing = sum(gap.missing for gap in summary.gaps)
        gaps = f"{len(summary.gaps)} gaps, {missing} missing"
    return [
        str(view["exchange"]),
        str(view["symbol"]),
        str(view["timeframe"]),
        f"{view['first']} .. {view['last']}",
        f"{view['candles']} candles",
        gaps,
    ]
