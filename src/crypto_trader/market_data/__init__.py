"""Market data: candle series stored as Parquet, imported from files, checked.

Importing this package imports numpy and pyarrow; the command line imports it
only inside the `data` commands so that other commands start fast.
"""

from __future__ import annotations

from crypto_trader.market_data.candle_import import (
    ImportResult,
    import_candles,
    read_candle_file,
)
from crypto_trader.market_data.candle_store import (
    CandleStore,
    MergeResult,
    SeriesSummary,
)
from crypto_trader.market_data.candles import COLUMNS, Candles, candles_from_arrays
from crypto_trader.market_data.gaps import Gap, find_gaps
from crypto_trader.market_data.samples import (
    SAMPLE_SERIES,
    install_sample,
    sample_series,
)
from crypto_trader.market_data.series import SeriesId, series_id
from crypto_trader.market_data.symbols import Symbol, parse_symbol
from crypto_trader.market_data.timeframes import Timeframe, parse_timeframe
from crypto_trader.market_data.timestamps import (
    format_timestamp_ms,
    parse_timestamp_ms,
)

__all__ = [
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
