"""Gaps: each run of missing candles by its first and last missing open time."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto_trader.market_data.gaps import Gap, find_gaps
from crypto_trader.market_data.timestamps import format_timestamp_ms

HOUR = 3_600_000
TEN_O_CLOCK = 1_704_103_200_000  # 2024-01-01T10:00:00Z


def test_a_gap_names_its_first_and_last_missing_candle() -> None:
    times = np.array([TEN_O_CLOCK, TEN_O_CLOCK + 3 * HOUR], dtype=np.int64)
    (gap,) = find_gaps(times, HOUR)
    assert gap == Gap(TEN_O_CLOCK + HOUR, TEN_O_CLOCK + 2 * HOUR, 2)
    assert gap.to_json() == {
        "start": "2024-01-01T11:00:00Z",
        "end": "2024-01-01T12:00:00Z",
        "missing": 2,
    }


def test_one_missing_candle_starts_and_ends_at_the_same_time() -> None:
    times = np.array([0, 2 * HOUR, 3 * HOUR], dtype=np.int64) + TEN_O_CLOCK
    assert find_gaps(times, HOUR) == [Gap(TEN_O_CLOCK + HOUR, TEN_O_CLOCK + HOUR, 1)]


def test_a_whole_series_and_a_lone_candle_have_no_gaps() -> None:
    assert find_gaps(TEN_O_CLOCK + HOUR * np.arange(5, dtype=np.int64), HOUR) == []
    assert find_gaps(np.array([TEN_O_CLOCK], dtype=np.int64), HOUR) == []
    assert find_gaps(np.array([], dtype=np.int64), HOUR) == []


@settings(derandomize=True, max_examples=60)
@given(st.sets(st.integers(0, 400), min_size=1, max_size=120))
def test_gaps_account_for_every_missing_candle(slots: set[int]) -> None:
    times = TEN_O_CLOCK + HOUR * np.array(sorted(slots), dtype=np.int64)
    gaps = find_gaps(times, HOUR)
    span = (int(times[-1]) - int(times[0])) // HOUR + 1
    assert len(times) + sum(g.missing for g in gaps) == span
    present = set(times.tolist())
    for gap in gaps:
        assert gap.end_ms - gap.start_ms == (gap.missing - 1) * HOUR
        assert gap.start_ms - HOUR in present
        assert gap.end_ms + HOUR in present
        assert gap.start_ms not in present
        assert gap.end_ms not in present


def test_open_times_are_written_as_iso_8601_utc() -> None:
    assert format_timestamp_ms(0) == "1970-01-01T00:00:00Z"
    assert format_timestamp_ms(TEN_O_CLOCK) == "2024-01-01T10:00:00Z"
