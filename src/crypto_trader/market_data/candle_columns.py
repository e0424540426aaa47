"""Columns of an imported file: which are which, and their conversion to candles.

A file names its open time either `timestamp_ms` (UTC epoch milliseconds) or
`timestamp` (ISO 8601 with a time zone, such as 2024-01-31T12:00:00Z), then
`open`, `high`, `low`, `close` and `volume`, in any order and any letter case.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from crypto_trader.errors import InputError
from crypto_trader.market_data.candle_checks import Finding
from crypto_trader.market_data.candles import (
    COLUMNS,
    VALUE_COLUMNS,
    Candles,
    candles_from_columns,
)

ISO_TIME = "timestamp"
TIME_COLUMNS = ("timestamp_ms", ISO_TIME)
EXPECTED = "timestamp_ms (or timestamp in ISO 8601), open, high, low, close, volume"


def match_columns(source: str, names: Sequence[str]) -> dict[str, str]:
    """Map each of COLUMNS to the file's name for it; the time one may be ISO.

    The returned mapping's first key is `timestamp_ms` or `timestamp`.
    """
    by_key = {name.strip().lower(): name for name in names}
    times = [key for key in TIME_COLUMNS if key in by_key]
    wanted = [*times[:1], *VALUE_COLUMNS]
    if len(names) != len(COLUMNS) or len(times) != 1 or set(by_key) != set(wanted):
        shown = ", ".join(name.strip()[:30] for name in names[:10])
        raise InputError(
            f"{source}: the columns must be {EXPECTED}; found {shown or 'none'}"
        )
    return {key: by_key[key] for key in wanted}


def table_to_candles(
    table: pa.Table, names: dict[str, str]
) -> tuple[Candles, Finding | None]:
    """Candles from typed columns, and the first row with an empty value if any.

    The open time must be int64 or a UTC timestamp, the values float64. An empty
    value becomes 0 or NaN so that the arrays stay whole; the Finding reports it.
    """
    columns = []
    missing: list[Finding] = []
    for key, name in names.items():
        column = table.column(name)
        if key == ISO_TIME:
            column = column.cast(pa.int64())
        if not column.null_count:
            columns.append(column.to_numpy())
            continue
        empty = column.is_null().to_numpy(zero_copy_only=False)
        missing.append(Finding(int(np.argmax(empty)), f"{key} is empty"))
        # Nulls come out as NaN, in a float array even for the open time.
        values = np.where(empty, 0.0, column.to_numpy(zero_copy_only=False))
        columns.append(values.astype(np.int64 if key in TIME_COLUMNS else np.float64))
    first_missing = min(missing, key=lambda f: f.index, default=None)
    return candles_from_columns(columns), first_missing
