"""Timeframes: ccxt's names, their lengths, and which open times are on the grid."""

from __future__ import annotations

import numpy as np
import pytest

from crypto_trader.errors import InputError
from crypto_trader.market_data.timeframes import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Timeframe,
    misaligned,
    parse_timeframe,
)

MONDAY_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z was a Monday
THURSDAY_MS = MONDAY_MS + 3 * DAY_MS


@pytest.mark.parametrize(
    ("text", "length_ms"),
    [
        ("1m", MINUTE_MS),
        ("3m", 3 * MINUTE_MS),
        ("5m", 5 * MINUTE_MS),
        ("15m", 15 * MINUTE_MS),
        ("30m", 30 * MINUTE_MS),
        ("1h", HOUR_MS),
        ("2h", 2 * HOUR_MS),
        ("4h", 4 * HOUR_MS),
        ("6h", 6 * HOUR_MS),
        ("8h", 8 * HOUR_MS),
        ("12h", 12 * HOUR_MS),
        ("1d", DAY_MS),
        ("3d", 3 * DAY_MS),
        ("1w", 7 * DAY_MS),
    ],
)
def test_every_ccxt_timeframe_has_its_length(text: str, length_ms: int) -> None:
    timeframe = parse_timeframe(f" {text} ")
    assert timeframe == text
    assert timeframe.ms == length_ms


def test_a_month_is_refused_with_the_reason_and_an_alternative() -> None:
    with pytest.raises(InputError, match=r"calendar months .* use 1w or 1d"):
        parse_timeframe("1M")


@pytest.mark.parametrize("text", ["1H", "60m", "1y", "", "../1h", "1h.parquet"])
def test_an_unknown_timeframe_lists_the_accepted_ones(text: str) -> None:
    with pytest.raises(InputError, match="use one of 1m, 3m, 5m") as caught:
        parse_timeframe(text)
    assert "\n" not in str(caught.value)


def test_up_to_a_day_the_grid_is_multiples_of_the_length_since_the_epoch() -> None:
    times = np.array([0, HOUR_MS, 90 * MINUTE_MS, 2 * HOUR_MS + 1], dtype=np.int64)
    assert misaligned(times, Timeframe.H1).tolist() == [False, False, True, True]
    assert misaligned(times, Timeframe.M30).tolist() == [False, False, False, True]
    four_hours = np.array([MONDAY_MS + 4 * HOUR_MS, MONDAY_MS + 6 * HOUR_MS])
    assert misaligned(four_hours, Timeframe.H4).tolist() == [False, True]


def test_weeks_may_start_on_any_day_but_keep_one_phase_in_a_series() -> None:
    mondays = MONDAY_MS + 7 * DAY_MS * np.arange(3, dtype=np.int64)
    thursdays = THURSDAY_MS + 7 * DAY_MS * np.arange(3, dtype=np.int64)
    assert not misaligned(mondays, Timeframe.W1).any()
    assert not misaligned(thursdays, Timeframe.W1).any()
    mixed = np.array([MONDAY_MS, THURSDAY_MS + 7 * DAY_MS], dtype=np.int64)
    assert misaligned(mixed, Timeframe.W1).tolist() == [False, True]


def test_a_stored_anchor_sets_the_phase_of_weekly_candles() -> None:
    thursdays = THURSDAY_MS + 7 * DAY_MS * np.arange(2, dtype=np.int64)
    assert misaligned(thursdays, Timeframe.W1, anchor_ms=MONDAY_MS).all()


def test_long_timeframes_still_open_at_midnight() -> None:
    noon = np.array([MONDAY_MS + 12 * HOUR_MS], dtype=np.int64)
    assert misaligned(noon, Timeframe.D3, anchor_ms=MONDAY_MS).tolist() == [True]
    assert misaligned(noon, Timeframe.W1).tolist() == [True]
