"""Streams one value at a time decide exactly as the whole-array code.

Paper and live trading feed each closed candle to a stream; a backtest runs the
compiled kernels over the whole array. Both must give the same bits at every
index, or a paper replay would trade differently from the backtest it mirrors.
Each indicator stream is held to its kernel on named seeded series (ties, NaN,
extreme magnitudes) and on series that hypothesis draws; each built-in
strategy's stream to its `signals()` on the bundled sample; the fallback
`WindowedStream` to `signals()` where its docstring says it agrees, and to a
disagreement where it says it does not. Streams must also stay small: an update
at the 100,000th candle keeps no more than one at the 1,000th.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto_trader.backtest import indicators
from crypto_trader.backtest.indicators import TIE_TOLERANCE
from crypto_trader.backtest.strategies.registry import BUILTIN
from crypto_trader.backtest.strategy import Param, Signals, Strategy
from crypto_trader.backtest.streaming import (
    BollingerStream,
    CrossingStream,
    EmaStream,
    MacdStream,
    RollingStdStream,
    RsiStream,
    SignalStream,
    SmaStream,
    WindowedStream,
)
from crypto_trader.market_data.candles import Candles, candles_from_arrays
from crypto_trader.market_data.samples import sample_series

FloatArray = npt.NDArray[np.float64]
Outputs = list[npt.NDArray[Any]]
# An indicator run both ways on (values, window): (streamed, kernel) outputs.
Pair = Callable[[FloatArray, int], tuple[Outputs, Outputs]]

SAMPLE = sample_series()
BOLLINGER_WIDTH = 1.5


def assert_same_bits(streamed: Outputs, kernel: Outputs, case: str) -> None:
    """Every output has the kernel's dtype, length and bytes (NaN and -0.0 too)."""
    assert len(streamed) == len(kernel), case
    for number, (got, expected) in enumerate(zip(streamed, kernel, strict=True)):
        label = f"{case}, output {number}"
        assert got.dtype == expected.dtype, label
        assert np.array_equal(got, expected, equal_nan=True), label
        # array_equal counts -0.0 equal to 0.0 and any NaN equal to any NaN.
        assert got.tobytes() == expected.tobytes(), label


def fed(
    update: Callable[[float], tuple[float | bool, ...]],
    values: FloatArray,
    width: int,
) -> Outputs:
    """The `width` outputs of `update` called on each value in turn, as arrays."""
    rows = [update(value) for value in values.tolist()]  # Python floats, as live
    return [np.array([row[k] for row in rows], dtype=np.float64) for k in range(width)]


def overflow_allowed() -> contextlib.AbstractContextManager[object]:
    """Quiet numpy's warning where a kernel's wrapper subtracts inf from inf.

    bollinger_bands and macd finish in numpy (middle - spread, line - signal),
    which warns on inf - inf; the streams compute the same NaN with Python
    floats, which do not warn. The bits are compared all the same.
    """
    return np.errstate(invalid="ignore", over="ignore")


# The indicator pairs. MACD and crossings take more than one window, or a second
# series: each is derived from the one window so that window 1 reaches them all.


def sma_pair(values: FloatArray, window: int) -> tuple[Outputs, Outputs]:
    stream = SmaStream(window)
    streamed = fed(lambda value: (stream.update(value),), values, 1)
    return streamed, [indicators.sma(values, window)]


def rolling_std_pair(values: FloatArray, window: int) -> tuple[Outputs, Outputs]:
    stream = RollingStdStream(window)
    streamed = fed(lambda value: (stream.update(value), stream.mean), values, 2)
    kernel = [indicators.rolling_std(values, window), indicators.sma(values, window)]
    return streamed, kernel


def bollinger_pair(values: FloatArray, window: int) -> tuple[Outputs, Outputs]:
    stream = BollingerStream(window, BOLLINGER_WIDTH)
    streamed = fed(stream.update, values, 3)
    with overflow_allowed():
        bands = indicators.bollinger_bands(values, window, BOLLINGER_WIDTH)
    return streamed, list(bands)


def ema_pair(values: FloatArray, window: int) -> tuple[Outputs, Outputs]:
    stream = EmaStream(window)
    streamed = fed(lambda value: (stream.update(value),), values, 1)
    return streamed, [indicators.ema(values, window)]


def rsi_pair(values: FloatArray, window: int) -> tuple[Outputs, Outputs]:
    stream = RsiStream(window)
    streamed = fed(lambda value: (stream.update(value),), values, 1)
    return streamed, [indicators.rsi(values, window)]


def macd_pair(values: FloatArray, window: int) -> tuple[Outputs, Outputs]:
    fast, slow, signal = window, 2 * window + 1, max(1, window // 2)
    stream = MacdStream(fast, slow, signal)
    streamed = fed(stream.update, values, 3)
    with overflow_allowed():
        lines = indicators.macd(values, fast, slow, signal)
    return streamed, list(lines)


def crossing_pair(values: FloatArray, window: int) -> tuple[Outputs, Outputs]:
    # Against its own SMA: window 1 and flat runs make ties, NaN carries through.
    average = indicators.sma(values, window)
    streamed = streamed_crossings(values, average)
    return streamed, list(indicators.crossings(values, average))


def streamed_crossings(above: FloatArray, below: FloatArray) -> Outputs:
    """Crosses up and down from a CrossingStream fed each pair in turn."""
    stream = CrossingStream()
    pairs = zip(above.tolist(), below.tolist(), strict=True)
    rows = [stream.update(first, second) for first, second in pairs]
    return [np.array([row[k] for row in rows], dtype=np.bool_) for k in (0, 1)]


PAIRS: dict[str, Pair] = {
    "sma": sma_pair,
    "rolling_std": rolling_std_pair,
    "bollinger": bollinger_pair,
    "ema": ema_pair,
    "rsi": rsi_pair,
    "macd": macd_pair,
    "crossing": crossing_pair,
}


def random_walk(seed: int, length: int, flat_share: float = 0.0) -> FloatArray:
    """A price-like walk around 100; a `flat_share` of its steps are exactly 0."""
    rng = np.random.default_rng(seed)
    steps = rng.standard_normal(length)
    steps[rng.random(length) < flat_share] = 0.0
    walk: FloatArray = 100.0 + np.cumsum(steps)
    return walk


def with_nan(values: FloatArray, where: slice | int) -> FloatArray:
    changed = values.copy()
    changed[where] = np.nan
    return changed


LENGTH = 150
FLAT = random_walk(3, LENGTH, flat_share=0.7)
FLAT[60:100] = FLAT[60]  # one long tie, longer than most windows
NAMED_SERIES: dict[str, FloatArray] = {
    "random walk": random_walk(1, LENGTH),
    "another walk": random_walk(2, LENGTH),
    "leading NaN": with_nan(random_walk(4, LENGTH), slice(0, 7)),
    "NaN in the middle": with_nan(random_walk(5, LENGTH), 75),
    "flat runs": FLAT,
    "constant": np.full(LENGTH, 42.5),
    "huge (sums overflow)": 1e306 * random_walk(6, LENGTH),
    "large (squares overflow)": 1e160 * random_walk(7, LENGTH),
    "tiny (subnormal squares)": 1e-300 * random_walk(8, LENGTH),
    "near zero, both signs": random_walk(9, LENGTH) - 100.0,
    "whole numbers, 0 and -0.0": np.round(random_walk(10, LENGTH, 0.5) - 100.0),
}
WINDOWS = (1, 2, 3, 5, 14, 26, LENGTH - 1, LENGTH, LENGTH + 1)


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("series", NAMED_SERIES)
def test_each_indicator_stream_gives_its_kernels_bits(name: str, series: str) -> None:
    values = NAMED_SERIES[series]
    for window in WINDOWS:
        streamed, kernel = PAIRS[name](values, window)
        assert_same_bits(streamed, kernel, f"{name}({window}) on {series}")


def test_the_named_series_reach_the_cases_they_are_named_for() -> None:
    # Otherwise a series could be all NaN or tie-free and prove little.
    assert np.isnan(indicators.ema(NAMED_SERIES["leading NaN"], 5)[:11]).all()
    assert not np.isnan(indicators.ema(NAMED_SERIES["leading NaN"], 5)[11:]).any()
    assert np.isinf(indicators.sma(NAMED_SERIES["huge (sums overflow)"], 5)).any()
    assert np.isinf(
        indicators.rolling_std(NAMED_SERIES["large (squares overflow)"], 5)
    ).any()
    flat_rsi = indicators.rsi(NAMED_SERIES["constant"], 5)
    assert (flat_rsi[5:] == 50.0).all()
    up, down = indicators.crossings(FLAT, indicators.sma(FLAT, 5))
    assert up.any()
    assert down.any()


@st.composite
def series(draw: st.DrawFn) -> FloatArray:
    """A seeded walk with flat runs, leading or inner NaN, at some magnitude."""
    length = draw(st.integers(0, 90))
    seed = draw(st.integers(0, 2**32 - 1))
    flat_share = draw(st.sampled_from([0.0, 0.5, 0.9]))
    scale = draw(st.sampled_from([1e-300, 1e-9, 1.0, 1e9, 1e200, -1.0]))
    values = scale * random_walk(seed, length, flat_share)
    if draw(st.booleans()):  # whole numbers: exact ties, zeros of both signs
        values = np.round(values)
    leading = draw(st.integers(0, 5))
    values[:leading] = np.nan
    if length and draw(st.booleans()):
        values[draw(st.integers(0, length - 1))] = np.nan
    return values


# Any doubles at all: infinities, NaN, subnormals, the largest and smallest.
any_floats = st.lists(st.floats(width=64), max_size=60).map(
    lambda items: np.array(items, dtype=np.float64)
)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    name=st.sampled_from(list(PAIRS)),
    values=st.one_of(series(), any_floats),
    pick=st.integers(0, 2),
    window=st.integers(1, 95),
)
def test_indicator_streams_match_on_drawn_series(
    name: str, values: FloatArray, pick: int, window: int
) -> None:
    # 1 and the array's length are windows every run tries; others are drawn.
    size = (1, max(1, len(values)), window)[pick]
    streamed, kernel = PAIRS[name](values, size)
    assert_same_bits(streamed, kernel, f"{name}({size}) on {values.tolist()}")


@st.composite
def crossing_series(draw: st.DrawFn) -> tuple[FloatArray, FloatArray]:
    """Two series that are equal, within TIE_TOLERANCE, just outside it, or apart."""
    above = draw(series())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = rng.integers(0, 4, len(above))
    with np.errstate(over="ignore", invalid="ignore"):
        apart = above * 1e-2 * rng.standard_normal(len(above))
        offsets = np.select(
            [kind == 0, kind == 1, kind == 2],
            [np.zeros(len(above)), above * 4e-10, above * 3e-9],
            apart,
        )
        below = above + offsets
    return above, below


@settings(derandomize=True, max_examples=80, deadline=None)
@given(pair=crossing_series())
def test_crossing_stream_matches_on_ties_and_near_ties(
    pair: tuple[FloatArray, FloatArray],
) -> None:
    above, below = pair
    streamed = streamed_crossings(above, below)

    kernel = list(indicators.crossings(above, below))
    assert_same_bits(streamed, kernel, f"crossings of {above} and {below}")


def test_crossing_stream_matches_on_the_tolerance_boundary_and_at_zero() -> None:
    # 1e9 +- 1 lies exactly TIE_TOLERANCE * 1e9 from 1e9: still a tie. Zero
    # against zero (of either sign) has no tolerance at all, and is a tie too.
    billion = 1e9
    near = [billion + 2, billion + 1, billion - 1, billion - 2, billion - 1]
    near += [billion + 1, billion + 2]
    above = np.array([*near, 0.0, -0.0, 1.0, 0.0, -1.0, 0.0, 1.0])
    below = np.array([billion] * len(near) + [0.0, 0.0, 0.0, -0.0, 0.0, 0.0, 0.0])
    streamed = streamed_crossings(above, below)

    kernel = list(indicators.crossings(above, below))
    assert_same_bits(streamed, kernel, "the boundary")
    assert np.flatnonzero(streamed[0]).tolist() == [6, 13]
    assert np.flatnonzero(streamed[1]).tolist() == [3, 11]
    assert abs((billion + 1) - billion) == TIE_TOLERANCE * billion


def test_crossing_ties_are_within_the_kernels_tolerance() -> None:
    # The near-tie offsets above straddle TIE_TOLERANCE, as they are meant to.
    assert 4e-10 < TIE_TOLERANCE < 3e-9


# The built-in strategies on the bundled sample: defaults and other valid params.
BUILTIN_PARAMS: dict[str, list[dict[str, int | float]]] = {
    "sma_cross": [{}, {"fast": 2, "slow": 3}, {"fast": 50, "slow": 200}],
    "rsi_reversion": [
        {},
        {"period": 2, "oversold": 10.0, "overbought": 90.0},
        {"period": 50, "oversold": 45.0, "overbought": 55.0},
    ],
    "bollinger_breakout": [
        {},
        {"window": 5, "width": 0.5},
        {"window": 120, "width": 4.0, "trailing_stop": 0.05},
    ],
    "macd": [{}, {"fast": 2, "slow": 3, "signal": 2}, {"fast": 40, "slow": 300}],
}
BUILTIN_CASES = [
    pytest.param(strategy, values, id=f"{strategy.name}-{number}")
    for strategy in BUILTIN
    for number, values in enumerate(BUILTIN_PARAMS.get(strategy.name, [{}]))
]


def streamed_signals(stream: SignalStream, candles: Candles) -> tuple[Outputs, int]:
    """Entries and exits from feeding each candle in turn, and how many were fed."""
    rows = zip(*(column.tolist() for column in candles.columns()[1:]), strict=True)
    decisions = [stream.update(*row) for row in rows]
    arrays = [np.array([d[k] for d in decisions], dtype=np.bool_) for k in (0, 1)]
    return arrays, len(decisions)


def first_difference(got: npt.NDArray[Any], expected: npt.NDArray[Any]) -> int | None:
    differ = np.flatnonzero(got != expected)
    return int(differ[0]) if differ.size else None


def test_every_builtin_has_streaming_cases() -> None:
    assert set(BUILTIN_PARAMS) == {strategy.name for strategy in BUILTIN}


@pytest.mark.parametrize(("strategy", "values"), BUILTIN_CASES)
def test_builtin_streams_decide_as_their_signals_on_the_sample(
    strategy: type[Strategy], values: Mapping[str, int | float]
) -> None:
    instance = strategy(**values)
    stream = instance.stream()
    assert not isinstance(stream, WindowedStream), "a built-in must be exact"

    (entries, exits), count = streamed_signals(stream, SAMPLE)

    expected = instance.signals(SAMPLE)
    assert count == len(SAMPLE)
    assert first_difference(entries, expected.entries) is None, instance
    assert first_difference(exits, expected.exits) is None, instance
    # Decisions that never happen would agree trivially.
    assert expected.entries.sum() > 5
    assert expected.exits.sum() > 5


# WindowedStream, the default stream, on strategies of the tests' own.


class AboveAverage(Strategy):
    """Long while the close is above its simple moving average over `window`.

    A close within TIE_TOLERANCE of the average is neither: a running sum over
    the last candles rounds differently from one begun at the first candle, and
    a strict comparison would turn that rounding into a decision.
    """

    name = "above_average"
    params: ClassVar[tuple[Param, ...]] = (Param("window", 10, 1, 500),)
    live_history = 25

    def signals(self, candles: Candles) -> Signals:
        average = indicators.sma(candles.close, int(self.values["window"]))
        margin = TIE_TOLERANCE * np.abs(average)
        entries = candles.close - average > margin
        exits = average - candles.close > margin
        return Signals(entries, exits, {"sma": average})


class AboveEma(Strategy):
    """Long while the close is above its exponential moving average over `span`."""

    name = "above_ema"
    params: ClassVar[tuple[Param, ...]] = (Param("span", 20, 1, 500),)
    live_history = 40

    def signals(self, candles: Candles) -> Signals:
        average = indicators.ema(candles.close, int(self.values["span"]))
        margin = TIE_TOLERANCE * np.abs(average)
        entries = candles.close - average > margin
        exits = average - candles.close > margin
        return Signals(entries, exits, {"ema": average})


def closes_only(closes: FloatArray) -> Candles:
    count = len(closes)
    ordinals = np.arange(count)
    return candles_from_arrays(ordinals, closes, closes, closes, closes, np.ones(count))


WINDOWED_DATA = {
    "sample": SAMPLE.take(slice(5000, 7000)),
    "flat walk": closes_only(random_walk(11, 1500, flat_share=0.6)),
}


def test_the_default_stream_is_windowed_over_live_history() -> None:
    stream = AboveAverage().stream()

    assert isinstance(stream, WindowedStream)
    assert stream.history == AboveAverage.live_history


@pytest.mark.parametrize("data", WINDOWED_DATA)
@pytest.mark.parametrize(("window", "history"), [(10, 25), (2, 3), (24, 25), (7, 8)])
def test_windowed_stream_matches_an_sma_strategy_with_more_history(
    data: str, window: int, history: int
) -> None:
    candles = WINDOWED_DATA[data]
    strategy = AboveAverage(window=window)

    (entries, exits), _ = streamed_signals(WindowedStream(strategy, history), candles)

    expected = strategy.signals(candles)
    assert first_difference(entries, expected.entries) is None
    assert first_difference(exits, expected.exits) is None
    assert expected.entries.sum() > 20
    assert expected.exits.sum() > 20


class StrictlyAboveAverage(AboveAverage):
    """AboveAverage without the tolerance: a tie decides by its rounding."""

    name = "strictly_above_average"

    def signals(self, candles: Candles) -> Signals:
        average = indicators.sma(candles.close, int(self.values["window"]))
        return Signals(candles.close > average, candles.close < average)


def test_windowed_sma_differs_only_in_rounding_on_a_strict_comparison() -> None:
    # The SMA kernel's running sum rounds by all the candles since the first,
    # the window's by its own: where the close ties the average the last bit
    # decides a strict comparison, and the two may decide apart. Nowhere else.
    candles = WINDOWED_DATA["flat walk"]
    strategy = StrictlyAboveAverage(window=2)

    (entries, exits), _ = streamed_signals(WindowedStream(strategy, 3), candles)

    expected = strategy.signals(candles)
    differs = (entries != expected.entries) | (exits != expected.exits)
    assert differs.any()
    average = indicators.sma(candles.close, 2)
    gap = np.abs(candles.close - average)[differs]
    assert (gap <= TIE_TOLERANCE * np.abs(average[differs])).all()


def test_windowed_stream_with_less_history_than_the_window_disagrees() -> None:
    # The control for the test above: a window that cannot fit is noticed.
    candles = WINDOWED_DATA["sample"]
    strategy = AboveAverage(window=10)

    (entries, _), _ = streamed_signals(WindowedStream(strategy, 9), candles)

    assert not entries.any()
    assert strategy.signals(candles).entries.any()


def test_windowed_stream_is_exact_for_an_ema_only_before_history_candles() -> None:
    # The documented limit: each window reseeds the EMA at its first candle, so
    # from `history` candles on the average, and some decisions, drift.
    candles = WINDOWED_DATA["sample"]
    strategy = AboveEma(span=20)
    history = AboveEma.live_history

    (entries, exits), _ = streamed_signals(strategy.stream(), candles)

    expected = strategy.signals(candles)
    assert np.array_equal(entries[:history], expected.entries[:history])
    assert np.array_equal(exits[:history], expected.exits[:history])
    assert expected.entries[:history].any()
    differs = (entries != expected.entries) | (exits != expected.exits)
    assert differs.any(), "the fallback now matches an EMA: update its docstring"
    assert int(np.flatnonzero(differs)[0]) >= history


# Windows that make no sense, for every stream.
BAD_WINDOWS: list[Any] = [0, -1, 2.5]
MAKERS: dict[str, Callable[[Any], object]] = {
    "SmaStream": SmaStream,
    "RollingStdStream": RollingStdStream,
    "BollingerStream": lambda window: BollingerStream(window, 2.0),
    "EmaStream": EmaStream,
    "RsiStream": RsiStream,
    "MacdStream fast": lambda window: MacdStream(window, 26, 9),
    "MacdStream slow": lambda window: MacdStream(12, window, 9),
    "MacdStream signal": lambda window: MacdStream(12, 26, window),
    "WindowedStream": lambda history: WindowedStream(AboveAverage(), history),
}


@pytest.mark.parametrize("bad", BAD_WINDOWS)
@pytest.mark.parametrize("maker", MAKERS)
def test_a_bad_window_is_refused_by_name(maker: str, bad: Any) -> None:
    name = "live_history" if maker == "WindowedStream" else "window"
    with pytest.raises(ValueError, match=rf"{name}.*: {re.escape(str(bad))}$"):
        MAKERS[maker](bad)


# Memory: state does not grow with the candles seen.
UPDATES = 100_000
STREAM_WINDOW = 5


def retained_bytes(state: object, seen: set[int] | None = None) -> int:
    """Bytes held by `state` and everything it refers to (classes aside)."""
    seen = set() if seen is None else seen
    if id(state) in seen or isinstance(state, type):
        return 0
    seen.add(id(state))
    size = sys.getsizeof(state)  # an array that owns its data counts the data
    if isinstance(state, deque | list | tuple | set):
        return size + sum(retained_bytes(item, seen) for item in state)
    if isinstance(state, dict):
        pairs = state.items()
        return size + sum(
            retained_bytes(k, seen) + retained_bytes(v, seen) for k, v in pairs
        )
    slots = [
        name for cls in type(state).__mro__ for name in getattr(cls, "__slots__", ())
    ]
    attributes = [getattr(state, name) for name in slots if hasattr(state, name)]
    attributes += list(getattr(state, "__dict__", {}).values())
    return size + sum(retained_bytes(value, seen) for value in attributes)


def feed_many(update: Callable[[float], object], values: list[float]) -> None:
    for value in values:
        update(value)


def test_indicator_streams_keep_bounded_state_over_many_updates() -> None:
    values = random_walk(21, UPDATES).tolist()
    sma, std = SmaStream(STREAM_WINDOW), RollingStdStream(STREAM_WINDOW)
    bands, crossing = BollingerStream(STREAM_WINDOW, 2.0), CrossingStream()
    ema, rsi = EmaStream(STREAM_WINDOW), RsiStream(STREAM_WINDOW)
    macd = MacdStream(3, STREAM_WINDOW, 2)
    updates: dict[object, Callable[[float], object]] = {
        sma: sma.update,
        std: std.update,
        bands: bands.update,
        ema: ema.update,
        rsi: rsi.update,
        macd: macd.update,
        crossing: lambda value: crossing.update(value, 100.0),
    }
    for stream, update in updates.items():
        assert not hasattr(stream, "__dict__"), stream  # slots only: nothing added
        feed_many(update, values[:1000])
        early = retained_bytes(stream)

        feed_many(update, values[1000:])

        assert retained_bytes(stream) == early, stream
    windows = [sma.recent, std._average.recent, bands._deviation._average.recent]
    for recent in windows:
        assert len(recent) == recent.maxlen == STREAM_WINDOW
        assert list(recent) == values[-STREAM_WINDOW:]


class Recording(Strategy):
    """Decides nothing; keeps the closes and ordinals it was last handed."""

    name = "recording"
    live_history = 50

    def __init__(self) -> None:
        super().__init__()
        self.last: Candles | None = None

    def signals(self, candles: Candles) -> Signals:
        self.last = candles
        nothing = np.zeros(len(candles), dtype=np.bool_)
        return Signals(nothing, nothing)


def test_windowed_stream_keeps_two_histories_and_hands_over_the_latest() -> None:
    strategy = Recording()
    stream = strategy.stream()
    assert isinstance(stream, WindowedStream)
    history = stream.history
    closes = random_walk(22, UPDATES).tolist()
    feed_many(
        lambda close: stream.update(close, close, close, close, 1.0), closes[:1000]
    )
    early = retained_bytes(stream)

    feed_many(
        lambda close: stream.update(close, close, close, close, 1.0), closes[1000:]
    )

    assert retained_bytes(stream) == early
    assert stream._prices.shape == (5, 2 * history)
    assert stream._ordinals.shape == (2 * history,)
    handed = strategy.last
    assert handed is not None
    assert handed.timestamp_ms.tolist() == list(range(UPDATES - history, UPDATES))
    assert handed.close.tolist() == closes[-history:]
