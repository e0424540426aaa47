"""Candle columns: read-only arrays, sorting, and which candle wins a merge."""

from __future__ import annotations

import numpy as np
import pytest

from crypto_trader.market_data.candles import (
    candles_from_arrays,
    concat,
    merge,
    sort_unique,
)
from tests.market_data.conftest import START_MS, assert_same_candles, make_candles

HOUR = 3_600_000


def test_columns_are_contiguous_read_only_and_typed() -> None:
    candles = candles_from_arrays([1, 2], [1, 1], [2, 2], [1, 1], [1, 1], [0, 0])
    assert candles.timestamp_ms.dtype == np.int64
    for column in candles.columns():
        assert column.flags.c_contiguous
        assert not column.flags.writeable
    assert candles.close.dtype == np.float64
    with pytest.raises(ValueError, match="read-only"):
        candles.close[0] = 5.0


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        candles_from_arrays([1, 2], [1], [1], [1], [1], [1])


def test_sort_unique_sorts_and_keeps_the_last_of_equal_open_times() -> None:
    ts = [START_MS + HOUR, START_MS, START_MS + HOUR, START_MS]
    close = [1.0, 2.0, 3.0, 4.0]
    candles = candles_from_arrays(ts, close, close, close, close, [0.0] * 4)
    unique, dropped = sort_unique(candles)
    assert dropped == 2
    assert unique.timestamp_ms.tolist() == [START_MS, START_MS + HOUR]
    assert unique.close.tolist() == [4.0, 3.0]


def test_sorted_unique_candles_come_back_untouched() -> None:
    candles = make_candles(5)
    unique, dropped = sort_unique(candles)
    assert unique is candles
    assert dropped == 0


def test_merge_appends_newer_candles() -> None:
    candles = make_candles(10)
    merged, replaced = merge(candles.take(slice(0, 6)), candles.take(slice(6, 10)))
    assert replaced == 0
    assert_same_candles(merged, candles)


def test_merge_lets_the_new_candle_win_on_an_equal_open_time() -> None:
    stored = make_candles(6, seed=1)
    new = make_candles(4, start_ms=START_MS + 4 * HOUR, seed=2)
    merged, replaced = merge(stored, new)
    assert replaced == 2
    assert merged.timestamp_ms.tolist() == (START_MS + HOUR * np.arange(8)).tolist()
    assert merged.close[:4].tolist() == stored.close[:4].tolist()
    assert merged.close[4:].tolist() == new.close.tolist()


def test_merge_fills_a_hole_in_the_middle() -> None:
    full = make_candles(9)
    holed = concat(full.take(slice(0, 3)), full.take(slice(6, 9)))
    merged, replaced = merge(holed, full.take(slice(3, 6)))
    assert replaced == 0
    assert_same_candles(merged, full)


def test_merging_nothing_keeps_what_is_there() -> None:
    candles = make_candles(3)
    empty = candles.take(slice(0, 0))
    assert merge(candles, empty) == (candles, 0)
    assert merge(empty, candles) == (candles, 0)
