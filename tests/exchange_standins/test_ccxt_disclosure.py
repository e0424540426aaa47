"""Where unmodified ccxt puts credentials: what the exchange layer has to guard.

These pin ccxt's behaviour with the stand-ins; they do not test the product.
"""

from __future__ import annotations

import logging
from typing import Any

import ccxt
import pytest

from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin
from tests.support.exchange_standins.coinbase import CoinbaseStandin
from tests.support.exchange_standins.coinbase_auth import CoinbaseKey
from tests.support.exchange_standins.failures import Disconnect


def test_ccxt_logs_request_headers_with_the_api_key_at_debug(
    binance: BinanceStandin,
    binance_key: BinanceKey,
    binance_client: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    binance_client.load_markets()
    with caplog.at_level(logging.DEBUG, logger="ccxt"):
        binance_client.fetch_balance()

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert {record.name for record in caplog.records} == {"ccxt.base.exchange"}
    assert binance_key.api_key in logged
    assert binance_key.secret not in logged


def test_ccxt_logs_the_coinbase_bearer_token_at_debug(
    coinbase: CoinbaseStandin,
    coinbase_client: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coinbase_client.load_markets()
    with caplog.at_level(logging.DEBUG, logger="ccxt"):
        coinbase_client.fetch_balance()

    (accounts,) = coinbase.requests_to("/v2/accounts")
    token = (accounts.header("Authorization") or "").removeprefix("Bearer ")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert token
    assert token in logged


def test_verbose_mode_prints_the_api_key(
    binance: BinanceStandin,
    binance_key: BinanceKey,
    binance_client: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    binance_client.load_markets()
    capsys.readouterr()
    binance_client.verbose = True

    binance_client.fetch_balance()

    assert binance_key.api_key in capsys.readouterr().out


def test_network_errors_quote_the_signed_url_but_not_the_credentials(
    binance: BinanceStandin, binance_key: BinanceKey, binance_client: Any
) -> None:
    binance_client.load_markets()
    binance.inject(Disconnect())

    with pytest.raises(ccxt.NetworkError) as raised:
        binance_client.fetch_my_trades("BTC/USDT")

    message = str(raised.value)
    (request,) = binance.requests_to("/api/v3/myTrades")
    assert f"signature={request.params['signature']}" in message
    assert binance_key.api_key not in message
    assert binance_key.secret not in message


def test_exchange_errors_quote_the_answer_body_only(
    binance: BinanceStandin, binance_key: BinanceKey, binance_client: Any
) -> None:
    binance_client.load_markets()
    binance.add_key(BinanceKey(binance_key.api_key, binance_key.secret, can_read=False))

    with pytest.raises(ccxt.AuthenticationError) as raised:
        binance_client.fetch_my_trades("BTC/USDT")

    (request,) = binance.requests_to("/api/v3/myTrades")
    assert str(raised.value) == (
        'binance {"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}'
    )
    assert request.params["signature"] in str(raised.value.__context__)


def test_coinbase_secret_stays_in_the_client(
    coinbase: CoinbaseStandin,
    coinbase_key: CoinbaseKey,
    coinbase_client: Any,
) -> None:
    coinbase_client.fetch_balance()

    secret_body = "".join(coinbase_key.secret.splitlines()[1:-1])
    (accounts,) = coinbase.requests_to("/v2/accounts")
    assert (accounts.header("Authorization") or "").startswith("Bearer ")
    assert not any(r.carries(secret_body) for r in coinbase.requests)
