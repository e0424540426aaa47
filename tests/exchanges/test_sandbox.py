"""`--sandbox`: the exchange's test network where ccxt has one, a clear error if not."""

from __future__ import annotations

import pytest

from crypto_trader.errors import ConfigurationError
from crypto_trader.exchanges.door import DoorSettings, ExchangeDoor


def test_binance_sandbox_points_at_the_test_network() -> None:
    door = ExchangeDoor("binance", DoorSettings(sandbox=True))

    api = door.client.urls["api"]

    assert "testnet" in api["public"]
    door.close()


@pytest.mark.parametrize("exchange", ["coinbase", "kraken"])
def test_an_exchange_without_a_test_network_says_so(exchange: str) -> None:
    door = ExchangeDoor(exchange, DoorSettings(sandbox=True))

    with pytest.raises(ConfigurationError, match="no test network"):
        _ = door.client
