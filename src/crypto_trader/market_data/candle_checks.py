"""The rules every candle obeys before it is stored, checked column-wise.

A candle is valid when its open time is on the timeframe's grid and is a time in
milliseconds (not seconds), every value is a finite number, every price is
positive, volume is zero or more, and high and low bracket open and close.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from crypto_trader.market_data.candles import PRICE_COLUMNS, VALUE_COLUMNS, Candles
from crypto_trader.market_data.timeframes import Timeframe, describe_grid, misaligned
from crypto_trader.market_data.timestamps import format_timestamp_ms

# Below 10**11 ms (1973-03-03) no crypto market traded: such a value is almost
# surely in seconds. At or after year 10000 a time cannot be written in ISO 8601.
EARLIEST_MS = 10**11
END_MS = 253_402_300_800_000


@dataclass(frozen=True, slots=True)
class Finding:
    """The first bad row: its index among the rows and what is wrong with it."""

    index: int
    reason: str


def first_invalid(
    candles: Candles, timeframe: Timeframe, anchor_ms: int | None = None
) -> Finding | None:
    """The first candle, in the given order, that breaks a rule; None if none does.

    `anchor_ms` is a stored candle's open time that anchors the 3d and 1w grids.
    """
    if anchor_ms is None and len(candles):
        anchor_ms = int(candles.timestamp_ms[0])
    bad = _bad_rows(candles, timeframe, anchor_ms)
    if not bad.any():
        return None
    index = int(np.argmax(bad))
    return Finding(index, _reason(candles, index, timeframe, anchor_ms))


def earliest(*findings: Finding | None) -> Finding | None:
    """The finding with the lowest index; on a tie the one given first."""
    present = [f for f in findings if f is not None]
    return min(present, key=lambda f: f.index, default=None)


def _bad_rows(
    candles: Candles, timeframe: Timeframe, anchor_ms: int | None
) -> npt.NDArray[np.bool_]:
    ts = candles.timestamp_ms
    bad = (ts < EARLIEST_MS) | (ts >= END_MS) | misaligned(ts, timeframe, anchor_ms)
    for name in VALUE_COLUMNS:
        bad |= ~np.isfinite(getattr(candles, name))
    for name in PRICE_COLUMNS:
        bad |= getattr(candles, name) <= 0
    bad |= candles.volume < 0
    bad |= candles.high < np.maximum(candles.open, candles.close)
    bad |= candles.low > np.minimum(candles.open, candles.close)
    return np.asarray(bad)


def _reason(
    candles: Candles, index: int, timeframe: Timeframe, anchor_ms: int | None
) -> str:
    """Say what is wrong with the row at `index`, in the order of `_bad_rows`."""
    timestamp = int(candles.timestamp_ms[index])
    row = {name: float(getattr(candles, name)[index]) for name in VALUE_COLUMNS}
    if timestamp < EARLIEST_MS:
        return (
            f"open time {timestamp} is before 1973: it looks like seconds, not "
            "milliseconds; multiply by 1000"
        )
    if timestamp >= END_MS:
        return f"open time {timestamp} ms is after the year 9999"
    one = np.array([timestamp], dtype=np.int64)
    if misaligned(one, timeframe, anchor_ms)[0]:
        return (
            f"open time {format_timestamp_ms(timestamp)} is not on the {timeframe} "
            f"grid ({describe_grid(timeframe)}); check --timeframe"
        )
    return _value_reason(row)


def _value_reason(row: dict[str, float]) -> str:
    for name, value in row.items():
        if not np.isfinite(value):
            return f"{name} is {value}, not a finite number"
    for name in PRICE_COLUMNS:
        if row[name] <= 0:
            return f"{name} {row[name]!r} is not a positive price"
    if row["volume"] < 0:
        return f"volume {row['volume']!r} is negative"
    for name in ("open", "close"):
        if row["high"] < row[name]:
            return f"high {row['high']!r} is below {name} {row[name]!r}"
        if row["low"] > row[name]:
            return f"low {row['low']!r} is above {name} {row[name]!r}"
    raise AssertionError("row passed every check")  # pragma: no cover
