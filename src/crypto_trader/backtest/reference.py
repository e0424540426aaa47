"""`sma_cross` again in plain vectorised numpy: a check on the engine, and a yardstick.

It shares no code with the strategy or the engine: moving averages from a
cumulative sum, crossings from a forward fill, trades from pairing crossings,
cash by compounding each trade's return. It implements the engine's rules for
this strategy (no stops): both fill conventions, fee, slippage, and an all-in or
a fractional stake. The tests require the same trades and equity to 1e-9; the
speed benchmark measures the engine against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

TIE_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class ReferenceResult:
    """Trades as index and price arrays, and equity at each close."""

    entry_index: IntArray
    exit_index: IntArray  # -1 while still open at the end
    entry_price: FloatArray
    exit_price: FloatArray  # the last close while still open
    amount: FloatArray
    equity: FloatArray


def moving_average(close: FloatArray, window: int) -> FloatArray:
    """Mean of the last `window` closes from a cumulative sum; NaN before."""
    sums = np.concatenate(([0.0], np.cumsum(close)))
    average = np.full(len(close), np.nan)
    average[window - 1 :] = (sums[window:] - sums[:-window]) / window
    return average


def sma_cross_signals(
    close: FloatArray, fast: int, slow: int
) -> tuple[BoolArray, BoolArray]:
    """Cross up and cross down of the fast average through the slow one."""
    fast_average = moving_average(close, fast)
    slow_average = moving_average(close, slow)
    difference = fast_average - slow_average
    with np.errstate(invalid="ignore"):
        differs = np.abs(difference) > TIE_TOLERANCE * np.abs(slow_average)
    side = np.where(differs, np.sign(difference), 0.0)
    # The side at the last earlier candle where the two differed (0 if none).
    positions = np.arange(len(close))
    last_differing = np.maximum.accumulate(np.where(differs, positions, -1))
    earlier = np.concatenate(([-1], last_differing[:-1]))
    previous = np.where(earlier >= 0, side[np.maximum(earlier, 0)], 0.0)
    return (side > 0) & (previous < 0), (side < 0) & (previous > 0)


def sma_cross(
    candles_open: FloatArray,
    close: FloatArray,
    fast: int,
    slow: int,
    *,
    cash: float = 10_000.0,
    fee_rate: float = 0.001,
    slippage_bps: float = 0.0,
    fill_at_close: bool = False,
    stake_fraction: float = 1.0,
) -> ReferenceResult:
    """Backtest sma_cross over the arrays; `stake_fraction` 1 is all-in."""
    count = len(close)
    up, down = sma_cross_signals(close, fast, slow)
    entry_index, exit_index = _pair(up, down)
    if not fill_at_close:
        # The next candle's open; a cross on the last candle never fills.
        entry_index, exit_index = _next_candle(entry_index, exit_index, count)
    fill_price = close if fill_at_close else candles_open
    slippage = slippage_bps / 10_000
    entry_price = fill_price[entry_index] * (1 + slippage)
    closed = exit_index >= 0
    exit_price = np.where(closed, fill_price[exit_index] * (1 - slippage), close[-1])
    exit_fee_rate = np.where(closed, fee_rate, 0.0)
    # A trade turns its budget, a fraction of the cash before it, into the
    # budget times its growth; the rest of the cash waits.
    growth = exit_price * (1 - exit_fee_rate) / (entry_price * (1 + fee_rate))
    cash_after = cash * np.cumprod(1 + stake_fraction * (growth - 1))
    cash_before = np.concatenate(([cash], cash_after[:-1]))
    amount = stake_fraction * cash_before / (entry_price * (1 + fee_rate))
    equity = np.full(count, cash)
    if len(entry_index):
        trade = np.searchsorted(entry_index, np.arange(count), side="right") - 1
        last = np.maximum(trade, 0)
        end = np.where(closed, exit_index, count)[last]
        holding = (trade >= 0) & (np.arange(count) < end)
        value = (1 - stake_fraction) * cash_before[last] + amount[last] * close
        equity = np.where(trade < 0, cash, np.where(holding, value, cash_after[last]))
    return ReferenceResult(
        entry_index, exit_index, entry_price, exit_price, amount, equity
    )


def _pair(up: BoolArray, down: BoolArray) -> tuple[IntArray, IntArray]:
    # Crossings alternate, so the entries are the crosses up and each exit the
    # first cross down after its entry (-1 if none); a cross down while flat,
    # before the first cross up, does nothing.
    ups = np.flatnonzero(up).astype(np.int64)
    downs = np.flatnonzero(down).astype(np.int64)
    if len(ups):
        downs = downs[downs > ups[0]]
    exits = np.full(len(ups), -1, dtype=np.int64)
    exits[: len(downs)] = downs[: len(ups)]
    return ups, exits


def _next_candle(
    entry_index: IntArray, exit_index: IntArray, count: int
) -> tuple[IntArray, IntArray]:
    keep = entry_index + 1 < count
    entries = entry_index[keep] + 1
    exits = exit_index[keep]
    exits = np.where((exits >= 0) & (exits + 1 < count), exits + 1, -1)
    return entries, exits
