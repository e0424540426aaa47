"""Causal indicators over whole arrays, compiled, and the crossing rule.

Every value at index i is computed from values 0..i only, by a recursion that runs
forward from index 0 and starts from a fixed rule (never from the last value or
the array's length). So an indicator run on a growing array gives, for each index
it already had, exactly the same bits as before: live trading can compute on the
candles it has and agree with the backtest on the same candles. Where an
indicator depends on all the history before it (a rolling sum's rounding, an
exponential average), an incremental caller must start from the same first
candle or carry the state forward.

Values before an indicator has enough candles are NaN.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from crypto_trader.backtest._jit import compiled

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Two values count as equal when they differ by at most this fraction of the
# second: the order of a summation cannot then turn a tie into a cross.
TIE_TOLERANCE = 1e-9


def sma(values: npt.ArrayLike, window: int) -> FloatArray:
    """Simple moving average: the mean of the last `window` values."""
    result: FloatArray = _sma(as_input(values), _window(window))
    return result


def rolling_std(values: npt.ArrayLike, window: int) -> FloatArray:
    """Population standard deviation of the last `window` values."""
    prepared, size = as_input(values), _window(window)
    result: FloatArray = _rolling_std(prepared, _sma(prepared, size), size)
    return result


def bollinger_bands(
    values: npt.ArrayLike, window: int, width: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Lower band, middle (the SMA) and upper band, `width` deviations apart."""
    prepared, size = as_input(values), _window(window)
    middle = _sma(prepared, size)
    # Overflowed input gives inf - inf: NaN, as the streams give, without a warning.
    with np.errstate(invalid="ignore", over="ignore"):
        spread = float(width) * _rolling_std(prepared, middle, size)
        return middle - spread, middle, middle + spread


def ema(values: npt.ArrayLike, span: int) -> FloatArray:
    """Exponential moving average with alpha = 2 / (span + 1).

    Seeded with the simple mean of the first `span` values (after any leading
    NaN), so the first value is at that span's last index.
    """
    result: FloatArray = _ema(as_input(values), _window(span))
    return result


def rsi(values: npt.ArrayLike, period: int) -> FloatArray:
    """Wilder's relative strength index, 0 to 100 (50 when prices stood still).

    The first value, at index `period`, averages the first `period` changes;
    after it each average moves by 1/period of the new change (Wilder smoothing).
    """
    result: FloatArray = _rsi(as_input(values), _window(period))
    return result


def macd(
    values: npt.ArrayLike, fast: int, slow: int, signal: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD line (fast EMA minus slow EMA), its signal line (an EMA) and histogram."""
    prepared = as_input(values)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN, quietly
        line = ema(prepared, fast) - ema(prepared, slow)
        signal_line = ema(line, signal)
        return line, signal_line, line - signal_line


def crossings(
    above: npt.ArrayLike, below: npt.ArrayLike
) -> tuple[BoolArray, BoolArray]:
    """Where `above` crosses up through `below`, and where it crosses down.

    A cross up at i: `above` is greater than `below` at i and was less at the
    last earlier index where the two differed; a cross down the other way
    round. They count as equal (a tie, which changes nothing) when
    abs(above - below) <= TIE_TOLERANCE * abs(below); NaN counts as a tie.
    """
    first, second = as_input(above), as_input(below)
    if first.shape != second.shape:
        raise ValueError(f"crossings: shapes differ: {first.shape} {second.shape}")
    up: BoolArray
    down: BoolArray
    up, down = _crossings(first, second, TIE_TOLERANCE)
    return up, down


def as_input(values: npt.ArrayLike) -> FloatArray:
    """A contiguous read-only float64 view: one compiled version per kernel."""
    array = np.ascontiguousarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"expected a one-dimensional array, got {array.ndim}")
    if array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


def _window(window: int) -> int:
    # A plain int, so that each kernel compiles for one type only.
    if int(window) != window or window < 1:
        raise ValueError(f"an indicator window must be a whole number >= 1: {window}")
    return int(window)


@compiled
def _sma(values: FloatArray, window: int) -> FloatArray:
    # A running sum: add the newest value, take away the one that left.
    count = values.shape[0]
    out = np.empty(count)
    head = min(window - 1, count)
    total = 0.0
    for i in range(head):
        total += values[i]
        out[i] = np.nan
    if head < count:
        total += values[head]
        out[head] = total / window
    for i in range(window, count):
        total += values[i] - values[i - window]
        out[i] = total / window
    return out


@compiled
def _rolling_std(values: FloatArray, mean: FloatArray, window: int) -> FloatArray:
    # Two-pass over each window around its own mean: no cancellation, and the
    # same value whatever came before the window.
    count = values.shape[0]
    out = np.empty(count)
    for i in range(min(window - 1, count)):
        out[i] = np.nan
    for i in range(window - 1, count):
        squares = 0.0
        for j in range(i - window + 1, i + 1):
            deviation = values[j] - mean[i]
            squares += deviation * deviation
        out[i] = math.sqrt(squares / window)
    return out


@compiled
def _ema(values: FloatArray, span: int) -> FloatArray:
    count = values.shape[0]
    out = np.full(count, np.nan)
    start = 0
    while start < count and np.isnan(values[start]):
        start += 1
    seed_index = start + span - 1
    if seed_index >= count:
        return out
    total = 0.0
    for i in range(start, seed_index + 1):
        total += values[i]
    average = total / span
    out[seed_index] = average
    alpha = 2.0 / (span + 1.0)
    for i in range(seed_index + 1, count):
        average += alpha * (values[i] - average)
        out[i] = average
    return out


@compiled
def _rsi(values: FloatArray, period: int) -> FloatArray:
    count = values.shape[0]
    out = np.full(count, np.nan)
    if count <= period:
        return out
    gains = 0.0
    losses = 0.0
    for i in range(1, period + 1):
        change = values[i] - values[i - 1]
        gains += max(change, 0.0)
        losses += max(-change, 0.0)
    gain = gains / period
    loss = losses / period
    out[period] = _rsi_value(gain, loss)
    for i in range(period + 1, count):
        change = values[i] - values[i - 1]
        gain = (gain * (period - 1) + max(change, 0.0)) / period
        loss = (loss * (period - 1) + max(-change, 0.0)) / period
        out[i] = _rsi_value(gain, loss)
    return out


@compiled
def _rsi_value(gain: float, loss: float) -> float:
    # 100 - 100 / (1 + gain / loss), written so that no loss gives 100, not inf.
    moved = gain + loss
    return 50.0 if moved == 0.0 else 100.0 * gain / moved


@compiled
def _crossings(
    above: FloatArray, below: FloatArray, tolerance: float
) -> tuple[BoolArray, BoolArray]:
    count = above.shape[0]
    up = np.zeros(count, dtype=np.bool_)
    down = np.zeros(count, dtype=np.bool_)
    side = 0  # +1 above, -1 below, at the last index where the two differed
    for i in range(count):
        difference = above[i] - below[i]
        if not abs(difference) > tolerance * abs(below[i]):  # a tie, or NaN
            continue
        now = 1 if difference > 0.0 else -1
        up[i] = side < 0 < now
        down[i] = now < 0 < side
        side = now
    return up, down
