"""Candle timeframes: ccxt's names, their length in milliseconds, and their grid.

A timeframe up to one day has a fixed grid: its candles open at whole multiples of
its length since 1970-01-01T00:00:00Z (every exchange that ccxt supports does so).
Longer ones (3d, 1w) open at midnight UTC, but on a day that differs by exchange
(Binance's weeks start on Monday, epoch-aligned weeks on Thursday), so their grid is
anchored at a series' first candle instead. Calendar months differ in length and
are refused: they fit no fixed grid.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt

from crypto_trader.errors import InputError

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


class Timeframe(StrEnum):
    """The length of one candle, named as ccxt names it."""

    M1 = "1m"
    M3 = "3m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H2 = "2h"
    H4 = "4h"
    H6 = "6h"
    H8 = "8h"
    H12 = "12h"
    D1 = "1d"
    D3 = "3d"
    W1 = "1w"

    @property
    def ms(self) -> int:
        """The candle's length in milliseconds."""
        return _LENGTH_MS[self]

    @property
    def epoch_grid(self) -> bool:
        """Whether candles open at multiples of the length since the epoch."""
        return self.ms <= DAY_MS


_UNIT_MS = {"m": MINUTE_MS, "h": HOUR_MS, "d": DAY_MS, "w": 7 * DAY_MS}
_LENGTH_MS = {tf: int(tf.value[:-1]) * _UNIT_MS[tf.value[-1]] for tf in Timeframe}


def parse_timeframe(text: str) -> Timeframe:
    """Return the timeframe named `text` (`1m` … `1w`) or say which are accepted."""
    value = text.strip()
    try:
        return Timeframe(value)
    except ValueError:
        pass
    if value.endswith("M") and value[:-1].isdigit():
        raise InputError(
            f"timeframe {value!r}: calendar months differ in length and cannot be "
            "stored on a fixed grid; use 1w or 1d candles instead"
        )
    accepted = ", ".join(tf.value for tf in Timeframe)
    raise InputError(f"unknown timeframe {value[:20]!r}; use one of {accepted}")


def misaligned(
    timestamps_ms: npt.NDArray[np.int64],
    timeframe: Timeframe,
    anchor_ms: int | None = None,
) -> npt.NDArray[np.bool_]:
    """Mark the open times that are off the timeframe's grid.

    `anchor_ms` is an open time known to be on the grid (a stored series' first
    candle); it matters only for 3d and 1w, whose grid is anchored there, or at the
    first of `timestamps_ms` when there is no anchor.
    """
    if timeframe.epoch_grid:
        return np.asarray(timestamps_ms % timeframe.ms != 0)
    if anchor_ms is None:
        anchor_ms = int(timestamps_ms[0]) if len(timestamps_ms) else 0
    off_day = timestamps_ms % DAY_MS != 0
    off_step = (timestamps_ms - anchor_ms) % timeframe.ms != 0
    return np.asarray(off_day | off_step)


def describe_grid(timeframe: Timeframe) -> str:
    """Say in words where the candles of `timeframe` open."""
    if timeframe.epoch_grid:
        return (
            f"{timeframe} candles open at whole multiples of {timeframe} "
            "since 1970-01-01T00:00:00Z"
        )
    return (
        f"{timeframe} candles open at midnight UTC, {timeframe} apart from the "
        "series' first candle"
    )
