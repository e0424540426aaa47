"""Importing candles from a CSV or Parquet file into the store, all or nothing.

Every row is checked before anything is stored; the first bad one is reported
by its line (CSV, the header being line 1) or its row (Parquet, the first being
row 1). Rows with the same open time merge: a later row replaces an earlier one,
and the file's candles replace stored ones (see `candles.merge`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from crypto_trader.errors import InputError
from crypto_trader.market_data.candle_checks import earliest, first_invalid
from crypto_trader.market_data.candle_columns import (
    ISO_TIME,
    match_columns,
    table_to_candles,
)
from crypto_trader.market_data.candle_store import CandleStore, MergeResult
from crypto_trader.market_data.candles import Candles, sort_unique
from crypto_trader.market_data.csv_candles import read_csv_candles
from crypto_trader.market_data.series import SeriesId
from crypto_trader.market_data.timeframes import Timeframe

log = logging.getLogger(__name__)

PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import read and what it changed in the store."""

    rows: int
    duplicates: int
    merge: MergeResult


def import_candles(store: CandleStore, path: Path, series: SeriesId) -> ImportResult:
    """Check every row of `path` and merge its candles into `series`.

    Raises InputError for a missing, unreadable or invalid file; then nothing is
    stored.
    """
    anchor = _first_stored(store, series)
    candles = read_candle_file(path, series.timeframe, anchor)
    unique, duplicates = sort_unique(candles)
    merged = store.merge(series, unique)
    log.info("imported %d rows from %s into %s", len(candles), path.name, series)
    return ImportResult(len(candles), duplicates, merged)


def read_candle_file(
    path: Path, timeframe: Timeframe, anchor_ms: int | None = None
) -> Candles:
    """Every row of a CSV or Parquet candle file in file order, all checked."""
    if not path.is_file():
        raise InputError(
            f"{path} is not a file; give the path of a CSV or Parquet file"
        )
    with path.open("rb") as head:
        magic = head.read(len(PARQUET_MAGIC))
    if not magic:
        raise InputError(f"{path} is empty; it needs a header line and candles")
    if magic == PARQUET_MAGIC:
        candles = read_parquet_candles(path, timeframe, anchor_ms)
    else:
        candles = read_csv_candles(path, timeframe, anchor_ms)
    if len(candles) == 0:
        raise InputError(f"{path} holds no candles, only the column names")
    return candles


def read_parquet_candles(
    path: Path, timeframe: Timeframe, anchor_ms: int | None = None
) -> Candles:
    """Every row of a Parquet candle file, in file order, after checking each one."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    names = match_columns(str(path), table.column_names)
    table = pa.table(
        {name: _numbers(path, table, key, name) for key, name in names.items()}
    )
    candles, empty = table_to_candles(table, names)
    finding = earliest(empty, first_invalid(candles, timeframe, anchor_ms))
    if finding is not None:
        raise InputError(
            f"{path}, row {finding.index + 1}: {finding.reason}; nothing was imported"
        )
    return candles


def _numbers(path: Path, table: pa.Table, key: str, name: str) -> pa.ChunkedArray[Any]:
    """A column cast to the store's type, or an InputError naming what it holds."""
    column = table.column(name)
    target = _target_type(path, key, name, column.type)
    try:
        return column.cast(target)
    except pa.ArrowInvalid:
        raise InputError(
            f"{path}: column {name!r} has values that do not fit {target} "
            "(too large, or finer than a millisecond)"
        ) from None


def _target_type(path: Path, key: str, name: str, kind: pa.DataType) -> pa.DataType:
    if key == ISO_TIME:
        if not pa.types.is_timestamp(kind) or kind.tz is None:
            raise InputError(
                f"{path}: column {name!r} is {kind}; it must be a timestamp with a "
                "time zone (UTC), or use timestamp_ms in epoch milliseconds"
            )
        return pa.timestamp("ms", tz="UTC")
    if key == "timestamp_ms":
        if not pa.types.is_integer(kind):
            raise InputError(
                f"{path}: column {name!r} holds {kind}; it must hold whole "
                "milliseconds since 1970-01-01 UTC"
            )
        return pa.int64()
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal)
    if not any(test(kind) for test in numeric):
        raise InputError(f"{path}: column {name!r} holds {kind}, not numbers")
    return pa.float64()


def _first_stored(store: CandleStore, series: SeriesId) -> int | None:
    # Only the 3d and 1w grids are anchored at a series' first candle.
    if series.timeframe.epoch_grid or not store.exists(series):
        return None
    return store.summary(series).first_ms
