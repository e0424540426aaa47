"""Fixtures for market data: a store in a temp folder, candles, files, the CLI."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pytest
from typer.models import TyperInfo

from crypto_trader.cli import data_commands, main
from crypto_trader.home import Home
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.candles import COLUMNS, Candles, candles_from_arrays
from crypto_trader.market_data.series import SeriesId, series_id
from crypto_trader.market_data.timeframes import HOUR_MS
from tests.support.cli import CliRunner

HEADER = ",".join(COLUMNS)
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
BTC_USDT_1H = series_id("binance", "BTC/USDT", "1h")


def make_candles(
    count: int, start_ms: int = START_MS, step_ms: int = HOUR_MS, seed: int = 7
) -> Candles:
    """`count` valid candles `step_ms` apart: a seeded random walk."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, count)))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = rng.uniform(0.0, 0.02, count)
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    volume = rng.uniform(0.0, 50.0, count)
    timestamps = start_ms + step_ms * np.arange(count, dtype=np.int64)
    return candles_from_arrays(timestamps, open_, high, low, close, volume)


def candle_rows(candles: Candles) -> list[list[str]]:
    """The candles as CSV rows of text, `timestamp_ms` first."""
    rows = []
    for index in range(len(candles)):
        values = [repr(float(column[index])) for column in candles.columns()[1:]]
        rows.append([str(int(candles.timestamp_ms[index])), *values])
    return rows


def write_csv(path: Path, rows: Iterable[Sequence[str]], header: str = HEADER) -> Path:
    """Write a header line and `rows`, one line each, with `\\n` endings."""
    with path.open("w", newline="") as out:
        out.write(header + "\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows(rows)
    return path


def assert_same_candles(left: Candles, right: Candles) -> None:
    for a, b in zip(left.columns(), right.columns(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def store(home: Home) -> CandleStore:
    return CandleStore.for_home(home)


@pytest.fixture
def series() -> SeriesId:
    return BTC_USDT_1H


@pytest.fixture
def data_cli(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI with `data` registered, as cli/main.py registers it, for this test."""
    groups = main.app.registered_groups
    if "data" not in {group.name for group in groups}:
        data = TyperInfo(data_commands.app, name="data")
        monkeypatch.setattr(main.app, "registered_groups", [*groups, data])
    return cli
