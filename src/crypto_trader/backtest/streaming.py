"""Indicators and signals one closed candle at a time, bit for bit as in a backtest.

Paper and live trading learn of one candle at a time and must decide at its close
without recomputing all the history before it. Each stream here keeps the state
that its kernel in `indicators` carries from one index to the next (a running
sum, an average, the side of a crossing) and the few recent values it looks
back at, so an update costs the same at the millionth candle as at the first.

Each update performs the kernel's floating-point operations in the kernel's
order. Python floats are IEEE doubles rounded to nearest, as the compiled kernels
are (compiled without fast-math, so nothing is reordered or fused), hence a
stream fed the candles from the first one on returns exactly the bits that the
kernel gives for the whole array. Streams take Python floats: numpy scalars give
the same bits but warn where Python floats stay quiet (inf - inf).

A strategy returns its decisions as a `SignalStream`. The built-in strategies
build theirs from the indicator streams; `WindowedStream` serves any other
strategy by running its `signals()` over the most recent candles.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from crypto_trader.backtest.indicators import TIE_TOLERANCE
from crypto_trader.market_data.candles import Candles, candles_from_columns

if TYPE_CHECKING:
    from crypto_trader.backtest.strategy import Strategy

NAN = math.nan


class SmaStream:
    """Simple moving average of the last `window` values, as `indicators.sma`."""

    __slots__ = ("_recent", "_total", "_window")

    def __init__(self, window: int) -> None:
        self._window = _checked_window(window)
        self._recent: deque[float] = deque(maxlen=self._window)
        self._total = 0.0

    @property
    def recent(self) -> deque[float]:
        """The values in the current window, oldest first (do not modify)."""
        return self._recent

    def update(self, value: float) -> float:
        """The average including `value`; NaN until `window` values were seen."""
        recent, window = self._recent, self._window
        if len(recent) < window:
            self._total += value
            recent.append(value)
            return self._total / window if len(recent) == window else NAN
        # As the kernel: the difference first, then added to the running sum.
        self._total += value - recent[0]
        recent.append(value)
        return self._total / window


class RollingStdStream:
    """Population standard deviation of the last `window` values, as `rolling_std`.

    Two passes over the window around its own mean, like the kernel: O(window)
    per update. `mean` holds the window's average after each update.
    """

    __slots__ = ("_average", "_window", "mean")

    def __init__(self, window: int) -> None:
        self._average = SmaStream(window)
        self._window = _checked_window(window)
        self.mean = NAN

    def update(self, value: float) -> float:
        """The deviation including `value`; NaN until `window` values were seen."""
        mean = self.mean = self._average.update(value)
        recent, window = self._average.recent, self._window
        if len(recent) < window:
            return NAN
        squares = 0.0
        for past in recent:
            deviation = past - mean
            squares += deviation * deviation
        return math.sqrt(squares / window)


class BollingerStream:
    """Lower band, middle (the SMA) and upper band, as `bollinger_bands`."""

    __slots__ = ("_deviation", "_width")

    def __init__(self, window: int, width: float) -> None:
        self._deviation = RollingStdStream(window)
        self._width = float(width)

    def update(self, value: float) -> tuple[float, float, float]:
        """The three bands including `value`; NaN until `window` values were seen."""
        spread = self._width * self._deviation.update(value)
        middle = self._deviation.mean
        return middle - spread, middle, middle + spread


class EmaStream:
    """Exponential moving average with alpha = 2 / (span + 1), as `indicators.ema`.

    Leading NaN values are skipped; the average is seeded with the plain mean
    of the first `span` values after them (a NaN among those makes it NaN for
    good, as in the kernel).
    """

    __slots__ = ("_alpha", "_average", "_seen", "_span")

    def __init__(self, span: int) -> None:
        self._span = _checked_window(span)
        self._alpha = 2.0 / (self._span + 1.0)
        self._seen = 0  # values counted since the leading NaN
        self._average = 0.0  # the seed's running sum until `span` values are seen

    def update(self, value: float) -> float:
        """The average including `value`; NaN until it is seeded."""
        if self._seen >= self._span:
            self._average += self._alpha * (value - self._average)
            return self._average
        if self._seen == 0 and value != value:  # a leading NaN
            return NAN
        self._seen += 1
        self._average += value
        if self._seen < self._span:
            return NAN
        self._average /= self._span
        return self._average


class RsiStream:
    """Wilder's relative strength index over `period` changes, as `indicators.rsi`."""

    __slots__ = ("_changes", "_gain", "_kept", "_loss", "_period", "_previous")

    def __init__(self, period: int) -> None:
        self._period = _checked_window(period)
        self._kept = self._period - 1
        self._changes = -1  # the first value brings no change
        self._previous = NAN
        self._gain = 0.0  # sums of the first `period` changes, then averages
        self._loss = 0.0

    def update(self, value: float) -> float:
        """The RSI including `value`, 0 to 100; NaN for the first `period` values."""
        change = value - self._previous
        self._previous = value
        self._changes += 1
        changes, period = self._changes, self._period
        if changes == 0:
            return NAN
        # max(change, 0.0) and max(-change, 0.0) as the kernel's max: NaN stays.
        rise = 0.0 if change < 0.0 else change
        fall = 0.0 if change > 0.0 else -change
        if changes < period:
            self._gain += rise
            self._loss += fall
            return NAN
        if changes == period:
            gain = (self._gain + rise) / period
            loss = (self._loss + fall) / period
        else:
            gain = (self._gain * self._kept + rise) / period
            loss = (self._loss * self._kept + fall) / period
        self._gain, self._loss = gain, loss
        moved = gain + loss
        return 50.0 if moved == 0.0 else 100.0 * gain / moved


class MacdStream:
    """MACD line, signal line and histogram, as `indicators.macd`.

    The signal line averages the MACD line, which is NaN until the slow average
    is seeded: its average skips those leading NaN, as the kernel does.
    """

    __slots__ = ("_fast", "_signal", "_slow")

    def __init__(self, fast: int, slow: int, signal: int) -> None:
        self._fast = EmaStream(fast)
        self._slow = EmaStream(slow)
        self._signal = EmaStream(signal)

    def update(self, value: float) -> tuple[float, float, float]:
        """Line, signal and histogram including `value`; NaN while warming up."""
        line = self._fast.update(value) - self._slow.update(value)
        signal = self._signal.update(line)
        return line, signal, line - signal


class CrossingStream:
    """Where one series crosses the other, as `indicators.crossings`.

    A tie (within TIE_TOLERANCE of `below`, or NaN) changes nothing: a cross is
    judged against the last candle where the two differed.
    """

    __slots__ = ("_side",)

    def __init__(self) -> None:
        self._side = 0  # +1 above, -1 below, where the two last differed

    def update(self, above: float, below: float) -> tuple[bool, bool]:
        """(crossed up, crossed down) at this value pair."""
        difference = above - below
        if not abs(difference) > TIE_TOLERANCE * abs(below):  # a tie, or NaN
            return False, False
        side = self._side
        if difference > 0.0:
            self._side = 1
            return side < 0, False
        self._side = -1
        return False, side > 0


class SignalStream(ABC):
    """A strategy's decisions one closed candle at a time, for paper and live trading.

    Fed every candle in order from the first one the strategy sees, a stream
    decides at each candle's close exactly as `signals()` would at that candle
    when run on the same candles (the built-in strategies' streams do so bit for
    bit; see `WindowedStream` for the fallback's limits).
    """

    __slots__ = ()

    @abstractmethod
    def update(
        self, open: float, high: float, low: float, close: float, volume: float
    ) -> tuple[bool, bool]:
        """(entry, exit) at the close of this candle, the one after the last fed."""


class WindowedStream(SignalStream):
    """Any strategy's decisions: its `signals()` over the last `history` candles.

    Costs one `signals()` call on at most `history` candles per candle, and keeps
    those candles in fixed ring buffers, so memory does not grow. It agrees with
    the backtest only while each decision depends on fewer than `history`
    candles before it and on no state carried from earlier ones: a rolling
    maximum, or an SMA compared with a tolerance (as `crossings` does), but not
    an EMA, an RSI or a crossing that stays undecided through a long tie, which
    start afresh at the window's first candle. An SMA's last bits depend on the
    running sum since the first candle, so a strict comparison with it may
    decide otherwise where the two tie.
    Exact for any strategy before `history` candles have arrived; for exact
    decisions after that, a strategy defines `stream()` itself. The candles'
    `timestamp_ms` holds each candle's ordinal (0, 1, 2 ...), not its time.
    """

    __slots__ = ("_count", "_history", "_ordinals", "_prices", "_strategy")

    def __init__(self, strategy: Strategy, history: int) -> None:
        self._strategy = strategy
        if int(history) != history or history < 1:
            raise ValueError(
                f"a strategy's live_history must be a whole number >= 1: {history}"
            )
        self._history = int(history)
        # Each candle is written twice, `history` apart, so that the last
        # `history` candles always lie in one contiguous slice: no copy per candle.
        self._prices = np.zeros((5, 2 * self._history))
        self._ordinals = np.zeros(2 * self._history, dtype=np.int64)
        self._count = 0

    @property
    def history(self) -> int:
        """The most candles handed to `signals()` at once."""
        return self._history

    def update(
        self, open: float, high: float, low: float, close: float, volume: float
    ) -> tuple[bool, bool]:
        """(entry, exit) from the strategy's signals at the newest candle."""
        history, count = self._history, self._count
        slot = count % history
        for at in (slot, slot + history):
            self._prices[:, at] = (open, high, low, close, volume)
            self._ordinals[at] = count
        self._count = count + 1
        signals = self._strategy.signals(self._window())
        return bool(signals.entries[-1]), bool(signals.exits[-1])

    def _window(self) -> Candles:
        count, history = self._count, self._history
        first = 0 if count <= history else count % history
        last = first + min(count, history)
        rows = [self._prices[row, first:last] for row in range(5)]
        return candles_from_columns([self._ordinals[first:last], *rows])


def _checked_window(window: int) -> int:
    # A plain int: the kernels' windows are ints, and so the arithmetic matches.
    if int(window) != window or window < 1:
        raise ValueError(f"an indicator window must be a whole number >= 1: {window}")
    return int(window)
