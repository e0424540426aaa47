"""The candle store: exact round trips, private files, merges, listing, removal."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crypto_trader.errors import (
    ConfigurationError,
    InputError,
    IntegrityError,
    NotFoundError,
)
from crypto_trader.market_data import parquet_file
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.candles import COLUMNS, candles_from_arrays
from crypto_trader.market_data.series import SeriesId, series_id
from tests.market_data.conftest import START_MS, assert_same_candles, make_candles

HOUR = 3_600_000


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(old)


def test_candles_come_back_exactly_as_stored(
    store: CandleStore, series: SeriesId
) -> None:
    candles = make_candles(500)
    result = store.merge(series, candles)
    assert (result.added, result.replaced) == (500, 0)
    loaded = store.load(series)
    assert_same_candles(loaded, candles)
    for column in loaded.columns()[1:]:
        assert column.dtype == np.float64
        assert column.flags.c_contiguous
        assert not column.flags.writeable


def test_the_file_is_where_the_design_says_with_the_stated_schema(
    store: CandleStore, series: SeriesId
) -> None:
    store.merge(series, make_candles(3))
    path = store.root / "binance" / "BTC-USDT" / "1h.parquet"
    assert store.path(series) == path
    schema = pq.read_schema(path)
    assert schema.names == list(COLUMNS)
    assert schema.field("timestamp_ms").type == pa.int64()
    assert {schema.field(n).type for n in COLUMNS[1:]} == {pa.float64()}


@pytest.mark.usefixtures("loose_umask")
def test_folders_are_0700_and_files_0600_whatever_the_umask(
    store: CandleStore, series: SeriesId
) -> None:
    store.merge(series, make_candles(3))
    store.merge(series, make_candles(3, start_ms=START_MS + 3 * HOUR))
    for path in [store.root, *store.root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_stored_candles_are_sorted_and_unique_whatever_order_they_came_in(
    store: CandleStore, series: SeriesId
) -> None:
    candles = make_candles(50)
    shuffled = candles.take(np.random.default_rng(3).permutation(50))
    store.merge(series, shuffled)
    store.merge(series, candles.take(slice(10, 20)))
    assert_same_candles(store.load(series), candles)


def test_a_later_merge_replaces_candles_at_the_same_open_time(
    store: CandleStore, series: SeriesId
) -> None:
    store.merge(series, make_candles(10, seed=1))
    newer = make_candles(4, start_ms=START_MS + 8 * HOUR, seed=2)
    result = store.merge(series, newer)
    assert (result.added, result.replaced) == (2, 2)
    assert result.summary.candles == 12
    loaded = store.load(series)
    assert loaded.close[8:].tolist() == newer.close.tolist()


def test_a_bad_candle_stores_nothing_and_says_which(
    store: CandleStore, series: SeriesId
) -> None:
    good = make_candles(5)
    store.merge(series, good)
    before = store.path(series).read_bytes()
    bad = candles_from_arrays(
        [START_MS + 10 * HOUR], [10.0], [9.0], [8.0], [9.5], [1.0]
    )
    with pytest.raises(InputError, match=r"candle 1 of 1 .*high 9.0 is below open"):
        store.merge(series, bad)
    assert store.path(series).read_bytes() == before


def test_weekly_candles_keep_the_phase_of_the_stored_series(store: CandleStore) -> None:
    weekly = series_id("binance", "BTC/USDT", "1w")
    week = 7 * 24 * HOUR
    store.merge(weekly, make_candles(3, step_ms=week))  # START_MS is a Monday
    thursday = make_candles(1, start_ms=START_MS + 3 * week + 3 * 24 * HOUR)
    with pytest.raises(InputError, match="not on the 1w grid"):
        store.merge(weekly, thursday)
    store.merge(weekly, make_candles(1, start_ms=START_MS + 3 * week))
    assert store.summary(weekly).candles == 4


def test_summary_lists_span_size_and_gaps(store: CandleStore, series: SeriesId) -> None:
    candles = make_candles(10)
    store.merge(series, candles.take(np.array([0, 1, 2, 6, 7, 9])))
    summary = store.summary(series).to_json()
    assert summary == {
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "timeframe": "1h",
        "first": "2024-01-01T00:00:00Z",
        "last": "2024-01-01T09:00:00Z",
        "candles": 6,
        "gaps": [
            {
                "start": "2024-01-01T03:00:00Z",
                "end": "2024-01-01T05:00:00Z",
                "missing": 3,
            },
            {
                "start": "2024-01-01T08:00:00Z",
                "end": "2024-01-01T08:00:00Z",
                "missing": 1,
            },
        ],
    }


def test_series_are_listed_in_order_and_stray_files_ignored(
    store: CandleStore,
) -> None:
    names = [
        ("kraken", "ETH/EUR", "1d"),
        ("binance", "BTC/USDT", "1d"),
        ("binance", "BTC/USDT", "5m"),
        ("binance", "ADA/USDT", "1h"),
    ]
    for exchange, symbol, timeframe in names:
        store.merge(
            series_id(exchange, symbol, timeframe), make_candles(2, step_ms=86_400_000)
        )
    (store.root / "binance" / "BTC-USDT" / "notes.txt").write_text("x")
    (store.root / "binance" / "BTC-USDT" / ".1h.parquet.99.ab.tmp").write_text("x")
    (store.root / "binance" / "bad name").mkdir()
    (store.root / "binance" / "bad name" / "1h.parquet").write_text("x")
    listed = [str(s) for s in store.series()]
    assert listed == [
        "binance ADA/USDT 1h",
        "binance BTC/USDT 5m",
        "binance BTC/USDT 1d",
        "kraken ETH/EUR 1d",
    ]


def test_an_empty_store_lists_nothing(store: CandleStore) -> None:
    assert store.series() == []
    assert store.summaries() == []


def test_remove_deletes_the_series_and_its_empty_folders(
    store: CandleStore, series: SeriesId
) -> None:
    other = series_id("binance", "BTC/USDT", "1d")
    store.merge(series, make_candles(2))
    store.merge(other, make_candles(2, step_ms=24 * HOUR))
    store.remove(series)
    assert store.series() == [other]
    store.remove(other)
    assert store.series() == []
    assert not (store.root / "binance").exists()


def test_a_missing_series_is_not_found(store: CandleStore, series: SeriesId) -> None:
    with pytest.raises(
        NotFoundError, match="no candles stored for binance BTC/USDT 1h"
    ):
        store.load(series)
    with pytest.raises(NotFoundError):
        store.remove(series)
    with pytest.raises(InputError, match="no candles to store"):
        store.merge(series, make_candles(3).take(slice(0, 0)))


def test_a_foreign_or_damaged_file_is_an_integrity_error(
    store: CandleStore, series: SeriesId
) -> None:
    store.merge(series, make_candles(3))
    path = store.path(series)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(IntegrityError, match="not a valid candle file"):
        store.load(series)
    unsorted = make_candles(3).take(np.array([2, 0, 1]))
    table = pa.table(dict(zip(COLUMNS, unsorted.columns(), strict=True)))
    pq.write_table(table, path)
    with pytest.raises(IntegrityError):
        store.load(series)
    with pytest.raises(IntegrityError):
        store.summary(series)
    pq.write_table(pa.table({"timestamp_ms": [START_MS]}), path)
    with pytest.raises(IntegrityError):
        store.load(series)


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temp(
    store: CandleStore, series: SeriesId, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.merge(series, make_candles(5))
    before = store.path(series).read_bytes()

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(parquet_file.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.merge(series, make_candles(5, start_ms=START_MS + 5 * HOUR))
    monkeypatch.undo()
    assert store.path(series).read_bytes() == before
    assert sorted(p.name for p in store.path(series).parent.iterdir()) == ["1h.parquet"]


def test_a_temp_file_left_by_a_crash_is_ignored_then_cleaned(
    store: CandleStore, series: SeriesId
) -> None:
    store.merge(series, make_candles(5))
    leftover = store.path(series).with_name(".1h.parquet.4242.deadbeef.tmp")
    leftover.write_bytes(b"half a parquet file")
    assert store.series() == [series]
    assert len(store.load(series)) == 5
    store.merge(series, make_candles(1, start_ms=START_MS + 5 * HOUR))
    assert not leftover.exists()
    assert len(store.load(series)) == 6


def test_a_symlinked_candle_folder_is_refused(
    store: CandleStore, series: SeriesId, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    store.root.mkdir(parents=True)
    (store.root / "binance").symlink_to(elsewhere)
    with pytest.raises(ConfigurationError, match="is not a directory"):
        store.merge(series, make_candles(2))
    assert list(elsewhere.iterdir()) == []


def test_refused_candles_leave_no_folders_behind(
    store: CandleStore, series: SeriesId
) -> None:
    bad = candles_from_arrays([START_MS + 1], [1.0], [1.0], [1.0], [1.0], [1.0])
    with pytest.raises(InputError, match="not on the 1h grid"):
        store.merge(series, bad)
    assert [p.name for p in store.root.iterdir()] == [".lock"]
