"""Live trading on a terminal asks for the exchange and symbols typed back."""

from __future__ import annotations

import pytest

from crypto_trader.cli import trade_commands
from crypto_trader.home import Home
from tests.exchanges.conftest import add_key_cli
from tests.support.cli import CliRunner
from tests.support.exchange_standins.binance import BinanceKey
from tests.trading.conftest import sessions

LIVE = (
    "trade",
    "--strategy",
    "sma_cross",
    "--exchange",
    "binance",
    "--symbol",
    "BTC/USDT",
    "--symbol",
    "ETH/USDT",
    "--timeframe",
    "1h",
    "--mode",
    "live",
    "--key",
    "main",
    "--live",
)


@pytest.fixture
def at_a_terminal(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    key = BinanceKey.generate(can_trade=True, ip_restrict=True)
    assert add_key_cli(cli, "main", key, "trading", "--no-check").code == 0
    monkeypatch.setattr(trade_commands, "interactive", lambda: True)
    return cli


@pytest.mark.parametrize("typed", ["", "yes", "binance BTC/USDT", "kraken BTC/USDT"])
def test_anything_but_the_exchange_and_symbols_sends_nothing(
    at_a_terminal: CliRunner, home: Home, typed: str
) -> None:
    refused = at_a_terminal(*LIVE, stdin=f"{typed}\n")

    assert refused.code == 2
    assert "Live trading sends real orders to binance for BTC/USDT, ETH/USDT" in (
        refused.err
    )
    assert "Type 'binance BTC/USDT ETH/USDT' to confirm" in refused.err
    assert refused.err.endswith(
        "error: live trading not confirmed: the typed text did not match; "
        "nothing was sent\n"
    )
    assert sessions(home) == []
