"""Candles as columns: contiguous numpy arrays, ready for vectorised work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

PRICE_COLUMNS = ("open", "high", "low", "close")
VALUE_COLUMNS = (*PRICE_COLUMNS, "volume")
COLUMNS = ("timestamp_ms", *VALUE_COLUMNS)

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Candles:
    """OHLCV columns of equal length; a stored series' are sorted and unique.

    `timestamp_ms` is each candle's open time in UTC epoch milliseconds; prices
    are quote per base and `volume` is in base units. The arrays are read-only.
    """

    timestamp_ms: Int64Array
    open: Float64Array
    high: Float64Array
    low: Float64Array
    close: Float64Array
    volume: Float64Array

    def __post_init__(self) -> None:
        lengths = {len(column) for column in self.columns()}
        if len(lengths) > 1:
            raise ValueError(f"candle columns differ in length: {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.timestamp_ms)

    def columns(self) -> tuple[npt.NDArray[Any], ...]:
        """The arrays in the order of COLUMNS."""
        return (
            self.timestamp_ms,
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
        )

    def take(self, index: npt.NDArray[np.intp] | slice) -> Candles:
        """The candles at `index` (an index array or a slice), as a new value."""
        return candles_from_columns([column[index] for column in self.columns()])


def candles_from_arrays(
    timestamp_ms: npt.ArrayLike,
    open: npt.ArrayLike,
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
) -> Candles:
    """Build candles from array-likes, copied into contiguous read-only arrays."""
    values = [
        np.array(column, dtype=np.float64)
        for column in (open, high, low, close, volume)
    ]
    return candles_from_columns([np.array(timestamp_ms, dtype=np.int64), *values])


def candles_from_columns(columns: Sequence[npt.NDArray[Any]]) -> Candles:
    """Candles from six arrays in the order of COLUMNS, made contiguous and read-only.

    Arrays of the right type that are contiguous are not copied (those read from
    Parquet are not): they are marked read-only in place.
    """
    first, *rest = columns
    values = [_frozen(column, np.float64) for column in rest]
    return Candles(_frozen(first, np.int64), *values)


def empty_candles() -> Candles:
    """No candles."""
    return candles_from_arrays([], [], [], [], [], [])


def concat(first: Candles, second: Candles) -> Candles:
    """`first` followed by `second`."""
    pairs = zip(first.columns(), second.columns(), strict=True)
    return candles_from_columns([np.concatenate(pair) for pair in pairs])


def sort_unique(candles: Candles) -> tuple[Candles, int]:
    """Sort by open time and keep the last of equal times; also count dropped ones.

    The last one wins because later rows are newer: a file's later row, or the
    candles merged in after the stored ones (see `merge`).
    """
    ts = candles.timestamp_ms
    if len(ts) < 2 or bool(np.all(ts[1:] > ts[:-1])):
        return candles, 0
    order = np.argsort(ts, kind="stable")
    ordered = ts[order]
    last_of_run = np.empty(len(ordered), dtype=np.bool_)
    last_of_run[:-1] = ordered[1:] != ordered[:-1]
    last_of_run[-1] = True
    keep = order[last_of_run]
    return candles.take(keep), len(ts) - len(keep)


def merge(stored: Candles, new: Candles) -> tuple[Candles, int]:
    """Merge `new` into `stored`; on equal open times the new candle wins.

    Both must be sorted and unique. Returns the merged candles and how many
    stored candles were replaced.
    """
    if len(stored) == 0:
        return new, 0
    if len(new) == 0:
        return stored, 0
    if new.timestamp_ms[0] > stored.timestamp_ms[-1]:
        return concat(stored, new), 0
    merged, replaced = sort_unique(concat(stored, new))
    return merged, replaced


def _frozen(array: npt.NDArray[Any], dtype: type[np.generic]) -> npt.NDArray[Any]:
    array = np.ascontiguousarray(array, dtype=dtype)
    if array.flags.writeable:
        array.flags.writeable = False
    return array
