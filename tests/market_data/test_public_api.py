"""The package's public surface is pinned: a change to it is a deliberate one."""

from __future__ import annotations

import subprocess
import sys

import crypto_trader.market_data as market_data
from crypto_trader.market_data.timestamps import parse_timestamp_ms


def test_the_public_names() -> None:
    assert sorted(market_data.__all__) == sorted(
        [
            "COLUMNS",
            "SAMPLE_SERIES",
            "CandleStore",
            "Candles",
            "Gap",
            "ImportResult",
            "MergeResult",
            "SeriesId",
            "SeriesSummary",
            "Symbol",
            "Timeframe",
            "candles_from_arrays",
            "find_gaps",
            "format_timestamp_ms",
            "import_candles",
            "install_sample",
            "parse_symbol",
            "parse_timeframe",
            "parse_timestamp_ms",
            "read_candle_file",
            "sample_series",
            "series_id",
        ]
    )
    assert all(hasattr(market_data, name) for name in market_data.__all__)


def test_command_line_dates_become_epoch_milliseconds() -> None:
    assert parse_timestamp_ms("2024-01-01", "--since") == 1_704_067_200_000
    assert parse_timestamp_ms("2024-01-01T00:00:01.5Z", "--until") == 1_704_067_201_500


def test_loading_the_cli_does_not_import_pyarrow() -> None:
    code = (
        "import sys; import crypto_trader.cli.main, crypto_trader.cli.data_commands; "
        "print('pyarrow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
