"""Importing Parquet: the same columns and checks as CSV, bad rows named by number."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crypto_trader.errors import InputError
from crypto_trader.market_data.candle_import import import_candles, read_candle_file
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.candles import COLUMNS, Candles
from crypto_trader.market_data.timeframes import Timeframe
from tests.market_data.conftest import (
    BTC_USDT_1H,
    START_MS,
    assert_same_candles,
    make_candles,
)


def write_parquet(path: Path, columns: dict[str, Any]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def as_columns(candles: Candles) -> dict[str, Any]:
    return dict(zip(COLUMNS, candles.columns(), strict=True))


def test_a_parquet_file_round_trips_exactly(store: CandleStore, tmp_path: Path) -> None:
    candles = make_candles(200)
    path = write_parquet(tmp_path / "c.parquet", as_columns(candles))
    result = import_candles(store, path, BTC_USDT_1H)
    assert result.merge.added == 200
    assert_same_candles(store.load(BTC_USDT_1H), candles)


def test_the_suffix_does_not_matter_the_content_does(tmp_path: Path) -> None:
    candles = make_candles(3)
    path = write_parquet(tmp_path / "candles.data", as_columns(candles))
    assert_same_candles(read_candle_file(path, Timeframe.H1), candles)


def test_utc_timestamps_integers_and_decimals_are_converted(tmp_path: Path) -> None:
    times = pa.array(
        [START_MS * 1000, (START_MS + 3_600_000) * 1000],
        type=pa.timestamp("us", tz="UTC"),
    )
    path = write_parquet(
        tmp_path / "c.parquet",
        {
            "Timestamp": times,
            "open": pa.array([10, 11], type=pa.int32()),
            "high": pa.array([Decimal("12.5"), Decimal("12.0")]),
            "low": [9.0, 9.0],
            "close": pa.array([11.0, 10.0], type=pa.float32()),
            "volume": [0.0, 3.0],
        },
    )
    candles = read_candle_file(path, Timeframe.H1)
    assert candles.timestamp_ms.tolist() == [START_MS, START_MS + 3_600_000]
    assert candles.high.tolist() == [12.5, 12.0]
    assert candles.open.dtype == np.float64


def test_a_bad_row_is_named_by_its_row_number(tmp_path: Path) -> None:
    columns = as_columns(make_candles(5))
    low = columns["low"].copy()
    low[3] = columns["high"][3] * 2
    columns["low"] = low
    path = write_parquet(tmp_path / "c.parquet", columns)
    with pytest.raises(InputError, match=r"c\.parquet, row 4: low .* is above open"):
        read_candle_file(path, Timeframe.H1)


def test_a_null_is_named_too(tmp_path: Path) -> None:
    columns = as_columns(make_candles(3))
    columns["volume"] = pa.array([1.0, None, 2.0])
    path = write_parquet(tmp_path / "c.parquet", columns)
    with pytest.raises(InputError, match="row 2: volume is empty"):
        read_candle_file(path, Timeframe.H1)


@pytest.mark.parametrize(
    ("name", "values", "message"),
    [
        ("timestamp", pa.array([START_MS], type=pa.timestamp("ms")), "time zone"),
        ("timestamp_ms", pa.array([1.5]), "whole milliseconds"),
        ("open", pa.array(["10"]), "holds string, not numbers"),
        (
            "timestamp",
            pa.array([START_MS * 1000 + 1], type=pa.timestamp("us", tz="UTC")),
            "finer than a millisecond",
        ),
    ],
)
def test_columns_of_the_wrong_kind_are_refused(
    tmp_path: Path, name: str, values: pa.Array[Any], message: str
) -> None:
    columns: dict[str, Any] = {"timestamp_ms": [START_MS]}
    columns.update({n: [10.0] for n in COLUMNS[1:]})
    if name == "timestamp":
        del columns["timestamp_ms"]
    columns[name] = values
    path = write_parquet(tmp_path / "c.parquet", columns)
    with pytest.raises(InputError, match=message):
        read_candle_file(path, Timeframe.H1)


def test_a_damaged_parquet_file_is_an_input_error(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "c.parquet", as_columns(make_candles(3)))
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_candle_file(path, Timeframe.H1)
