"""Indicators by hand, the crossing rule with its ties, and the built-in strategies."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crypto_trader.backtest import indicators
from crypto_trader.backtest.indicators import crossings
from crypto_trader.backtest.strategies.bollinger_breakout import BollingerBreakout
from crypto_trader.backtest.strategies.macd import Macd
from crypto_trader.backtest.strategies.registry import BUILTIN
from crypto_trader.backtest.strategies.rsi_reversion import RsiReversion
from crypto_trader.backtest.strategies.sma_cross import SmaCross
from crypto_trader.backtest.strategy import Stops
from crypto_trader.errors import InputError
from crypto_trader.market_data.candles import Candles, candles_from_arrays

NAN = math.nan


def closes_only(closes: list[float]) -> Candles:
    count = len(closes)
    times = 1_704_067_200_000 + 3_600_000 * np.arange(count)
    return candles_from_arrays(times, closes, closes, closes, closes, np.ones(count))


def where(flags: np.ndarray) -> list[int]:
    return np.flatnonzero(flags).tolist()


def test_sma_is_the_mean_of_the_window() -> None:
    result = indicators.sma([1.0, 2.0, 3.0, 4.0, 6.0], 3)

    assert np.isnan(result[:2]).all()
    assert result[2:].tolist() == [2.0, 3.0, 13 / 3]


def test_rolling_std_is_the_population_deviation() -> None:
    result = indicators.rolling_std([1.0, 2.0, 3.0, 4.0], 4)

    assert result[3] == pytest.approx(math.sqrt(1.25), rel=1e-15)
    assert indicators.rolling_std([1.0, 2.0, 4.0], 2)[1:].tolist() == [0.5, 1.0]


def test_bollinger_bands_lie_width_deviations_around_the_mean() -> None:
    lower, middle, upper = indicators.bollinger_bands([1.0, 2.0, 4.0], 2, 2.0)

    assert middle[1:].tolist() == [1.5, 3.0]
    assert lower[1:].tolist() == [0.5, 1.0]
    assert upper[1:].tolist() == [2.5, 5.0]


def test_ema_is_seeded_with_the_mean_of_its_first_span() -> None:
    # span 3: alpha 0.5; seed mean(1, 2, 3) = 2 at index 2.
    result = indicators.ema([1.0, 2.0, 3.0, 4.0, 5.0, 7.0], 3)

    assert np.isnan(result[:2]).all()
    assert result[2:].tolist() == [2.0, 3.0, 4.0, 5.5]


def test_ema_starts_after_leading_nan() -> None:
    # span 2: alpha 2/3; seed mean(1, 2) = 1.5 at index 2, then 1.5 + 2/3 * 1.5.
    result = indicators.ema([NAN, 1.0, 2.0, 3.0], 2)

    assert np.isnan(result[:2]).all()
    assert result[2] == 1.5
    assert result[3] == pytest.approx(2.5, rel=1e-15)


def test_rsi_uses_wilder_smoothing() -> None:
    # Changes +1 +1 -1 +1 with period 2: first averages gain 1, loss 0 -> 100;
    # then gain (1 + 0) / 2, loss (0 + 1) / 2 -> 50; then 0.75 and 0.25 -> 75.
    result = indicators.rsi([1.0, 2.0, 3.0, 2.0, 3.0], 2)

    assert np.isnan(result[:2]).all()
    assert result[2:].tolist() == [100.0, 50.0, 75.0]


def test_rsi_of_prices_that_stand_still_is_50() -> None:
    assert indicators.rsi([5.0] * 6, 3)[3:].tolist() == [50.0, 50.0, 50.0]


def test_macd_is_fast_ema_minus_slow_ema_with_an_ema_signal() -> None:
    values = np.linspace(1.0, 3.0, 40) ** 2

    line, signal, histogram = indicators.macd(values, 3, 6, 4)

    expected_line = indicators.ema(values, 3) - indicators.ema(values, 6)
    assert np.array_equal(line, expected_line, equal_nan=True)
    # The signal's seed: the mean of the first 4 MACD values, at index 5 + 3.
    assert np.isnan(signal[:8]).all()
    assert signal[8] == pytest.approx(line[5:9].mean(), rel=1e-14)
    assert np.array_equal(histogram, line - signal, equal_nan=True)


@pytest.mark.parametrize(
    ("above", "below", "up", "down"),
    [
        ([1, 2, 2, 3], [2, 2, 2, 2], [3], []),  # below, tie, tie, above: cross at 3
        ([1, 2, 1], [2, 2, 2], [], []),  # below, tie, below: no cross
        ([3, 2, 2, 3], [2, 2, 2, 2], [], []),  # above, ties, above: no cross
        ([3, 2, 1], [2, 2, 2], [], [2]),
        ([3, 1, 3, 1], [2, 2, 2, 2], [2], [1, 3]),
        ([NAN, 1, NAN, 3], [2, 2, 2, 2], [3], []),  # NaN changes nothing
        ([2, 3], [2, 2], [], []),  # no earlier differing candle: no cross
    ],
)
def test_the_crossing_rule(
    above: list[float], below: list[float], up: list[int], down: list[int]
) -> None:
    crosses_up, crosses_down = crossings(above, below)

    assert (where(crosses_up), where(crosses_down)) == (up, down)


def test_values_within_1e_9_of_the_second_count_as_equal() -> None:
    base = 1_000_000.0
    below = [base] * 4
    # 1e-4 is 1e-10 of the base: a tie; 0.01 is 1e-8: a difference.
    assert (
        where(crossings([base - 1, base + 1e-4, base - 1e-4, base - 1], below)[0]) == []
    )
    assert where(crossings([base - 1, base + 0.01, base, base], below)[0]) == [1]


def test_summation_rounding_in_a_tie_makes_no_cross() -> None:
    # After candle 9 the closes stand at 0.7: both averages are 0.7 exactly in
    # arithmetic, but their floating sums differ by about 2e-16 (checked below).
    closes = [0.7, 0.9, 0.5, 1.0, 0.5, 0.5] + [0.7] * 8 + [1.0] * 3
    fast, slow = indicators.sma(closes, 2), indicators.sma(closes, 5)
    assert np.any((fast - slow)[10:14] != 0.0)

    up, down = crossings(fast, slow)

    # Fast is above at 9 and again at 14 after the tie: no cross down at 10, no
    # cross up at 14. The crosses are the real ones at 5 (down) and 7 (up).
    assert (where(up), where(down)) == ([7], [5])


def test_sma_cross_signals_and_indicators() -> None:
    closes = [5.0, 4, 3, 2, 3, 4, 5, 6, 5, 4, 3, 2]
    strategy = SmaCross(fast=2, slow=3)

    result = strategy.signals(closes_only(closes))

    # fast - slow from candle 2: -1/2, -1/2, -1/6, +1/2, +1/2, +1/2, +1/6, -1/2
    assert where(result.entries) == [5]
    assert where(result.exits) == [9]
    assert sorted(result.indicators) == ["sma(2)", "sma(3)"]
    assert result.indicators["sma(3)"][4] == pytest.approx(8 / 3, rel=1e-15)


def test_sma_cross_refuses_fast_not_below_slow() -> None:
    with pytest.raises(InputError, match=r"fast \(30\) must be less than slow \(30\)"):
        SmaCross(fast=30, slow=30)


def rule_crossings(above: np.ndarray, below: np.ndarray) -> tuple[list[int], list[int]]:
    """The crossing rule as the issue words it, one candle at a time."""
    up: list[int] = []
    down: list[int] = []
    for i in range(len(above)):
        a, b = above[i], below[i]
        if math.isnan(a) or math.isnan(b) or abs(a - b) <= 1e-9 * abs(b):
            continue
        earlier = [
            j
            for j in range(i)
            if not math.isnan(above[j] - below[j])
            and abs(above[j] - below[j]) > 1e-9 * abs(below[j])
        ]
        if earlier and a > b and above[earlier[-1]] < below[earlier[-1]]:
            up.append(i)
        if earlier and a < b and above[earlier[-1]] > below[earlier[-1]]:
            down.append(i)
    return up, down


def test_the_kernel_follows_the_rule_on_data_full_of_ties() -> None:
    rng = np.random.default_rng(11)
    for _ in range(20):
        above = rng.integers(0, 4, 60).astype(float)
        below = rng.integers(0, 4, 60).astype(float) + 0.5 * (rng.random(60) < 0.1)
        above[rng.random(60) < 0.1] = NAN

        up, down = crossings(above, below)

        assert (where(up), where(down)) == rule_crossings(above, below)


def test_rsi_reversion_enters_below_oversold_and_exits_above_overbought() -> None:
    closes = [10.0, 11, 12, 11, 10, 9, 8, 9, 10, 11, 12, 13, 14, 13, 12, 11, 10, 9]
    strategy = RsiReversion(period=2, oversold=30.0, overbought=70.0, stop_loss=0.0)
    rsi = indicators.rsi(closes, 2)

    result = strategy.signals(closes_only(closes))

    assert where(result.entries) == rule_crossings(rsi, np.full(18, 30.0))[1]
    assert where(result.exits) == rule_crossings(rsi, np.full(18, 70.0))[0]
    assert where(result.entries)
    assert where(result.exits)
    assert np.array_equal(result.indicators["rsi"], rsi, equal_nan=True)
    assert strategy.stops() == Stops()
    assert RsiReversion().stops() == Stops(stop_loss=0.1)


def test_rsi_reversion_refuses_oversold_not_below_overbought() -> None:
    with pytest.raises(InputError, match="oversold"):
        RsiReversion(oversold=50, overbought=50)


def test_bollinger_breakout_enters_above_the_upper_band_exits_below_the_middle() -> (
    None
):
    closes = [
        10,
        10.2,
        9.9,
        10.1,
        9.8,
        10.0,
        10.1,
        9.9,
        12.0,
        13.0,
        12.5,
        11.0,
        10,
        9.5,
    ]
    strategy = BollingerBreakout(window=5, width=1.0)

    result = strategy.signals(closes_only(closes))

    values = np.array(closes)
    _, middle, upper = indicators.bollinger_bands(values, 5, 1.0)
    assert where(result.entries) == rule_crossings(values, upper)[0]
    assert where(result.exits) == rule_crossings(values, middle)[1]
    assert where(result.entries)
    assert where(result.exits)
    assert BollingerBreakout(trailing_stop=0.05).stops() == Stops(trailing_stop=0.05)
    assert BollingerBreakout().stops() == Stops()


def test_macd_enters_when_the_line_crosses_its_signal() -> None:
    prices = 100 + 10 * np.sin(np.arange(150) / 6)
    strategy = Macd(fast=3, slow=6, signal=3)

    result = strategy.signals(closes_only(prices.tolist()))

    line, signal, _ = indicators.macd(prices, 3, 6, 3)
    up, down = rule_crossings(line, signal)
    assert (where(result.entries), where(result.exits)) == (up, down)
    assert len(up) >= 2
    assert len(down) >= 2


def test_macd_refuses_fast_not_below_slow() -> None:
    with pytest.raises(InputError, match="macd: fast"):
        Macd(fast=26, slow=12)


@pytest.mark.parametrize("strategy", BUILTIN, ids=lambda s: s.name)
def test_each_builtin_documents_itself_and_its_parameters(strategy: type) -> None:
    doc = strategy.__doc__ or ""

    assert len(doc.strip().splitlines()) >= 3  # a summary and what it does
    for param in strategy.params:
        assert param.description
        assert param.low <= param.default <= param.high
        assert param.step > 0
    default = strategy()
    assert default.values == {p.name: p.default for p in strategy.params}


@pytest.mark.parametrize("strategy", BUILTIN, ids=lambda s: s.name)
def test_each_builtin_gives_one_boolean_per_candle(strategy: type) -> None:
    closes = (100 + 10 * np.sin(np.arange(300) / 7.0)).tolist()

    result = strategy().signals(closes_only(closes))

    for flags in (result.entries, result.exits):
        assert flags.dtype == np.bool_
        assert flags.shape == (300,)
        assert flags.any()
    assert not (result.entries & result.exits).any()
    for values in result.indicators.values():
        assert values.shape == (300,)
