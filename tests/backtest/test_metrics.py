"""Metrics, each formula checked by hand on tiny equity curves and trade lists."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto_trader.backtest.metrics import (
    LABELS,
    YEAR_MS,
    cagr_pct,
    compute_metrics,
    drawdown_durations_ms,
    drawdown_pct,
    equity_returns,
    equity_times_ms,
    periods_per_year,
    sharpe_ratio,
    sortino_ratio,
)
from crypto_trader.backtest.model import SimResult, Trades
from crypto_trader.market_data.candles import (
    Candles,
    candles_from_arrays,
    empty_candles,
)
from crypto_trader.market_data.timeframes import DAY_MS, HOUR_MS

START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
REQUIRED_KEYS = {
    "trades",
    "final_equity",
    "total_return_pct",
    "max_drawdown_pct",
    "sharpe",
    "win_rate_pct",
    "profit_factor",
    "fees_paid",
    "candles",
}


def candles(
    count: int, step_ms: int = DAY_MS, first_open: float = 100.0, last: float = 100.0
) -> Candles:
    """`count` flat candles at 100, except the first open and the last close."""
    times = START_MS + step_ms * np.arange(count, dtype=np.int64)
    opens = np.full(count, 100.0)
    closes = np.full(count, 100.0)
    opens[0], closes[-1] = first_open, last
    highs = np.maximum(opens, closes) + 1
    lows = np.minimum(opens, closes) - 1
    return candles_from_arrays(times, opens, highs, lows, closes, np.ones(count))


def trades(rows: Sequence[tuple[int, int, float]]) -> Trades:
    """Trades from (entry_index, exit_index, pnl); exit -1 is an open position."""
    entry = np.array([r[0] for r in rows], dtype=np.int64)
    exit_ = np.array([r[1] for r in rows], dtype=np.int64)
    pnl = np.array([r[2] for r in rows], dtype=np.float64)
    ones = np.ones(len(rows))
    reason = np.where(exit_ < 0, -1, 0).astype(np.int64)
    return Trades(entry, exit_, ones * 100, ones * 100, ones, ones, ones, pnl, reason)


def result(
    equity: Sequence[float],
    rows: Sequence[tuple[int, int, float]] = (),
    fees: float = 0.0,
) -> SimResult:
    curve = np.array(equity, dtype=np.float64)
    return SimResult(trades(rows), curve, float(curve[-1]), float(curve[-1]), fees)


# Returns, Sharpe and Sortino.


def test_returns_start_from_the_cash() -> None:
    returns = equity_returns(np.array([110.0, 99.0, 121.0]), 100.0)
    np.testing.assert_allclose(returns, [0.1, -0.1, 121 / 99 - 1], rtol=1e-12)


def test_a_year_holds_365_days_of_candles() -> None:
    assert periods_per_year(DAY_MS) == 365
    assert periods_per_year(HOUR_MS) == 8760
    assert periods_per_year(60_000) == 525_600


def test_sharpe_by_hand() -> None:
    # Returns 0.02, 0, 0.04: mean 0.02, sample std 0.02, so sqrt(365) a year.
    run = compute_metrics(candles(3), result([102.0, 102.0, 106.08]), 100.0, DAY_MS)
    assert run.sharpe == pytest.approx(math.sqrt(365), rel=1e-9)
    # No candle lost money: the downside deviation is zero, nothing to divide by.
    assert run.sortino is None


def test_sharpe_and_sortino_by_hand_on_hourly_candles() -> None:
    # Returns 0.03, -0.01: mean 0.01, sample std 0.02 * sqrt(2), downside
    # deviation sqrt(0.01^2 / 2); a year is 8760 hours.
    run = compute_metrics(candles(2, HOUR_MS), result([103.0, 101.97]), 100.0, HOUR_MS)
    assert run.sharpe == pytest.approx(math.sqrt(8760 / 8), rel=1e-9)
    assert run.sortino == pytest.approx(math.sqrt(2 * 8760), rel=1e-9)


def test_sharpe_needs_two_returns_and_some_spread() -> None:
    assert sharpe_ratio(np.array([0.01]), 365) is None
    assert sharpe_ratio(np.array([0.01, 0.01, 0.01]), 365) is None
    assert sortino_ratio(np.array([]), 365) is None


# Drawdown.


def test_drawdown_is_a_positive_percentage_below_the_running_peak() -> None:
    drawdown = drawdown_pct(np.array([120.0, 90.0, 100.0, 130.0, 117.0]), 100.0)
    np.testing.assert_allclose(drawdown, [0, 25, 100 / 6, 0, 10], rtol=1e-12)


def test_the_starting_cash_is_the_first_peak() -> None:
    drawdown = drawdown_pct(np.array([80.0, 90.0]), 100.0)
    np.testing.assert_allclose(drawdown, [20, 10], rtol=1e-12)


def test_drawdown_lasts_from_its_peak_until_equity_is_back() -> None:
    # Points: 100 at the first open, then each daily close. The 25% drawdown
    # runs from the close at 120 (day 1) to the close at 130 (day 4).
    equity = np.array([120.0, 90.0, 100.0, 130.0, 117.0])
    times = equity_times_ms(candles(5).timestamp_ms, DAY_MS)
    deepest, longest = drawdown_durations_ms(equity, 100.0, times)
    assert (deepest, longest) == (3 * DAY_MS, 3 * DAY_MS)


def test_the_deepest_drawdown_need_not_be_the_longest() -> None:
    # 10% down for a day and back (2 days from peak to recovery), then a
    # shallower one from day 2 that never recovers: 4 days to the end.
    equity = np.array([90.0, 100.0, 95.0, 96.0, 97.0, 98.0])
    times = equity_times_ms(candles(6).timestamp_ms, DAY_MS)
    deepest, longest = drawdown_durations_ms(equity, 100.0, times)
    assert (deepest, longest) == (2 * DAY_MS, 4 * DAY_MS)


def test_drawdown_duration_counts_calendar_time_across_gaps() -> None:
    times = np.array([START_MS, START_MS + 10 * DAY_MS], dtype=np.int64)
    points = equity_times_ms(times, DAY_MS)
    assert points.tolist() == [START_MS, START_MS + DAY_MS, START_MS + 11 * DAY_MS]
    deepest, _ = drawdown_durations_ms(np.array([90.0, 95.0]), 100.0, points)
    assert deepest == 11 * DAY_MS


def test_metrics_report_the_drawdown_in_days() -> None:
    run = compute_metrics(
        candles(5), result([120.0, 90.0, 100.0, 130.0, 117.0]), 100.0, DAY_MS
    )
    assert run.max_drawdown_pct == pytest.approx(25.0)
    assert run.max_drawdown_duration_days == 3
    assert run.longest_drawdown_days == 3


# CAGR and Calmar.


def test_cagr_by_hand() -> None:
    assert cagr_pct(100.0, 121.0, 2 * YEAR_MS) == pytest.approx(10.0, rel=1e-12)
    assert cagr_pct(100.0, 50.0, YEAR_MS / 2) == pytest.approx(-75.0, rel=1e-12)


def test_cagr_never_gives_infinity() -> None:
    assert cagr_pct(100.0, 1e6, HOUR_MS) is None  # 10,000x in an hour overflows
    assert cagr_pct(100.0, 121.0, 0) is None
    assert cagr_pct(100.0, 0.0, YEAR_MS) == -100.0


def test_cagr_spans_first_open_to_last_close_and_calmar_divides_by_drawdown() -> None:
    # 365 daily candles span exactly one year; the dip to 80 is a 20% drawdown.
    equity = np.full(365, 100.0)
    equity[100], equity[-1] = 80.0, 150.0
    run = compute_metrics(candles(365), result(equity), 100.0, DAY_MS)
    assert run.cagr_pct == pytest.approx(50.0, rel=1e-9)
    assert run.max_drawdown_pct == pytest.approx(20.0, rel=1e-12)
    assert run.calmar == pytest.approx(2.5, rel=1e-9)


def test_calmar_without_a_drawdown_is_none() -> None:
    run = compute_metrics(candles(3), result([101.0, 102.0, 103.0]), 100.0, DAY_MS)
    assert run.max_drawdown_pct == 0
    assert run.max_drawdown_duration_days == 0
    assert run.calmar is None


# Trade statistics.


def test_trade_statistics_by_hand() -> None:
    rows = [(1, 3, 10.0), (3, 4, -5.0), (5, 6, 20.0), (6, 7, -5.0), (8, -1, 99.0)]
    run = compute_metrics(
        candles(10, HOUR_MS), result([100.0] * 10, rows, fees=3.5), 100.0, HOUR_MS
    )
    assert run.trades == 5  # entries, the open position included
    assert run.win_rate_pct == 50.0  # 2 of 4 closed trades
    assert run.profit_factor == 3.0  # 30 won / 10 lost
    assert run.expectancy == 5.0  # 20 / 4 closed trades
    # Held at closes 1-2, 3, 5, 6 and, open, 8-9: 7 of 10 candles.
    assert run.exposure_pct == 70.0
    assert run.avg_trade_duration_hours == 1.25  # (2 + 1 + 1 + 1) / 4
    assert run.fees_paid == 3.5


def test_profit_factor_without_losses_is_none() -> None:
    run = compute_metrics(
        candles(4), result([100.0] * 4, [(0, 1, 10.0), (2, 3, 5.0)]), 100.0, DAY_MS
    )
    assert run.win_rate_pct == 100.0
    assert run.profit_factor is None


def test_only_an_open_position_leaves_the_closed_trade_statistics_empty() -> None:
    run = compute_metrics(
        candles(4), result([100.0] * 4, [(2, -1, 7.0)]), 100.0, DAY_MS
    )
    assert run.trades == 1
    assert run.exposure_pct == 50.0
    assert run.win_rate_pct is None
    assert run.expectancy is None
    assert run.avg_trade_duration_hours is None


def test_returns_and_buy_and_hold() -> None:
    run = compute_metrics(
        candles(3, first_open=80.0, last=100.0),
        result([95.0, 99.0, 121.0]),
        100.0,
        DAY_MS,
    )
    assert run.final_equity == 121.0
    assert run.total_return_pct == pytest.approx(21.0, rel=1e-12)
    assert run.buy_and_hold_return_pct == pytest.approx(25.0, rel=1e-12)
    assert run.candles == 3
    assert (run.start, run.end) == ("2024-01-01T00:00:00Z", "2024-01-04T00:00:00Z")


# Labels and JSON.


def test_every_label_carries_its_unit() -> None:
    run = compute_metrics(candles(3), result([100.0] * 3), 100.0, DAY_MS)
    labelled = run.labelled("USD")
    assert [label for label, _ in labelled] == [
        label.format(quote="USD") for _, label in LABELS
    ]
    for label, _ in labelled:
        assert re.search(r" \[[^\]]+\]$", label), label
    assert ("Final equity [USD]", 100.0) in labelled
    assert ("Fees paid [USD]", 0.0) in labelled


def test_json_holds_the_required_keys_and_no_infinity() -> None:
    # A flat run: every ratio has nothing to divide by.
    run = compute_metrics(candles(3), result([100.0] * 3), 100.0, DAY_MS)
    values = run.to_json()
    assert set(values) >= REQUIRED_KEYS
    assert {key for key, _ in LABELS} == set(values)
    for key in ("sharpe", "sortino", "calmar", "profit_factor", "win_rate_pct"):
        assert values[key] is None, key
    json.dumps(values, allow_nan=False)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    st.lists(
        st.floats(min_value=1e-6, max_value=1e9, allow_nan=False),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from([60_000, HOUR_MS, DAY_MS]),
)
def test_no_metric_is_ever_infinite_or_nan(equity: list[float], step: int) -> None:
    rows = [(0, len(equity) - 1, equity[-1] - 100.0)] if len(equity) > 1 else []
    run = compute_metrics(candles(len(equity), step), result(equity, rows), 100.0, step)
    for key, value in run.to_json().items():
        if isinstance(value, float):
            assert math.isfinite(value), key
    assert run.max_drawdown_pct >= 0
    json.dumps(run.to_json(), allow_nan=False)


def test_metrics_refuse_no_candles() -> None:
    nothing = SimResult(trades([]), np.array([]), 100.0, 100.0, 0.0)
    with pytest.raises(ValueError, match="at least one candle"):
        compute_metrics(empty_candles(), nothing, 100.0, DAY_MS)
