"""sma_cross in the engine against the plain numpy reference: same trades, same equity.

The reference shares no code with the strategy or the engine (its averages come
from a cumulative sum, its crossings from a forward fill, its cash from
compounding), so agreement on the bundled sample is evidence for both.
"""

from __future__ import annotations

import numpy as np
import pytest

from crypto_trader.backtest import reference
from crypto_trader.backtest.engine import simulate
from crypto_trader.backtest.model import EngineConfig, Fill, SimResult, Stake, StakeKind
from crypto_trader.backtest.strategies.sma_cross import SmaCross
from crypto_trader.market_data.candles import Candles, candles_from_arrays
from crypto_trader.market_data.samples import sample_series

SAMPLE = sample_series()


def engine_run(
    candles: Candles, fast: int, slow: int, config: EngineConfig
) -> SimResult:
    strategy = SmaCross(fast=fast, slow=slow)
    return simulate(candles, strategy.signals(candles), config)


def assert_same(result: SimResult, expected: reference.ReferenceResult) -> None:
    trades = result.trades
    assert np.array_equal(trades.entry_index, expected.entry_index)
    assert np.array_equal(trades.exit_index, expected.exit_index)
    np.testing.assert_allclose(trades.entry_price, expected.entry_price, rtol=1e-12)
    np.testing.assert_allclose(trades.exit_price, expected.exit_price, rtol=1e-12)
    np.testing.assert_allclose(trades.amount, expected.amount, rtol=1e-9)
    np.testing.assert_allclose(result.equity, expected.equity, rtol=1e-9, atol=0)
    assert result.final_equity == pytest.approx(expected.equity[-1], rel=1e-9)


@pytest.mark.parametrize("fill", list(Fill))
@pytest.mark.parametrize(("fast", "slow"), [(10, 30), (5, 20), (20, 100), (2, 3)])
def test_sma_cross_matches_the_reference_on_the_sample(
    fill: Fill, fast: int, slow: int
) -> None:
    config = EngineConfig(fill=fill, fee_rate=0.001)

    result = engine_run(SAMPLE, fast, slow, config)
    expected = reference.sma_cross(
        SAMPLE.open, SAMPLE.close, fast, slow, fill_at_close=fill is Fill.CLOSE
    )

    assert len(result.trades) > 50
    assert_same(result, expected)


@pytest.mark.parametrize("fill", list(Fill))
def test_with_slippage_and_a_fractional_stake(fill: Fill) -> None:
    config = EngineConfig(
        fill=fill,
        fee_rate=0.002,
        slippage_bps=7.5,
        stake=Stake(StakeKind.FRACTION, 0.4),
    )

    result = engine_run(SAMPLE, 12, 40, config)
    expected = reference.sma_cross(
        SAMPLE.open,
        SAMPLE.close,
        12,
        40,
        fee_rate=0.002,
        slippage_bps=7.5,
        fill_at_close=fill is Fill.CLOSE,
        stake_fraction=0.4,
    )

    assert_same(result, expected)


def coarse_ticks(count: int, seed: int) -> Candles:
    """A market quoted in ticks of 0.1 that often stands still: ties everywhere."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([-1.0, 0.0, 0.0, 0.0, 1.0], size=count)
    close = np.round(2500.0 + 0.1 * np.cumsum(steps), 1)
    open_ = np.concatenate(([2500.0], close[:-1]))
    times = 1_704_067_200_000 + 60_000 * np.arange(count)
    high, low = np.maximum(open_, close), np.minimum(open_, close)
    return candles_from_arrays(times, open_, high, low, close, np.ones(count))


@pytest.mark.parametrize("fill", list(Fill))
def test_ties_from_coarse_ticks_give_the_same_trades(fill: Fill) -> None:
    # The engine keeps a running window sum, the reference differences a
    # cumulative sum: in a tie their averages differ in the last bits, often
    # with opposite signs (checked here), and only the tie rule keeps the
    # crossings the same.
    candles = coarse_ticks(20_000, seed=5)
    strategy = SmaCross(fast=4, slow=12)
    ours = strategy.signals(candles).indicators
    engine_side = np.sign(ours["sma(4)"] - ours["sma(12)"])[11:]
    fast = reference.moving_average(candles.close, 4)
    slow = reference.moving_average(candles.close, 12)
    reference_side = np.sign(fast - slow)[11:]
    assert np.sum(engine_side != reference_side) > 100

    result = engine_run(candles, 4, 12, EngineConfig(fill=fill))
    expected = reference.sma_cross(
        candles.open, candles.close, 4, 12, fill_at_close=fill is Fill.CLOSE
    )

    assert len(result.trades) > 100
    assert_same(result, expected)


def test_the_reference_on_a_hand_checked_case() -> None:
    closes = np.array([5.0, 4, 3, 2, 3, 4, 5, 6, 5, 4, 3, 2])
    opens = closes + 0.5

    expected = reference.sma_cross(opens, closes, 2, 3, fee_rate=0.0)

    # Cross up at 5 and down at 9 (see test_strategies): filled at opens 6 and 10.
    assert expected.entry_index.tolist() == [6]
    assert expected.exit_index.tolist() == [10]
    assert expected.equity[-1] == pytest.approx(10_000 * 3.5 / 5.5, rel=1e-15)
