"""Stand-in fixtures, plus ready-made keys and ccxt clients for these tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin
from tests.support.exchange_standins.coinbase import CoinbaseStandin
from tests.support.exchange_standins.coinbase_auth import CoinbaseKey


@pytest.fixture
def binance_key(binance: BinanceStandin) -> BinanceKey:
    return binance.add_key(BinanceKey.generate(can_trade=True))


@pytest.fixture
def binance_client(binance_key: BinanceKey, ccxt_factory: Callable[..., Any]) -> Any:
    return ccxt_factory(
        "binance", apiKey=binance_key.api_key, secret=binance_key.secret
    )


@pytest.fixture
def coinbase_key(coinbase: CoinbaseStandin) -> CoinbaseKey:
    return coinbase.add_key(CoinbaseKey.generate(can_trade=True))


@pytest.fixture
def coinbase_client(coinbase_key: CoinbaseKey, ccxt_factory: Callable[..., Any]) -> Any:
    return ccxt_factory(
        "coinbase", apiKey=coinbase_key.name, secret=coinbase_key.secret
    )
