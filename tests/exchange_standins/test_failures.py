"""Injected failures reach real ccxt as the errors the exchange layer must translate.

The tables pin ccxt's exact classes: the exchange layer's translation depends on
them, and a ccxt upgrade that changes one should fail here first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ccxt
import pytest

from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin
from tests.support.exchange_standins.book import synthetic_candles
from tests.support.exchange_standins.coinbase import CoinbaseStandin
from tests.support.exchange_standins.failures import (
    Disconnect,
    Failure,
    InvalidKey,
    MalformedJson,
    PermissionDenied,
    RateLimited,
    ServerError,
    Stall,
)

CLIENT_TIMEOUT_MS = 300
STALL_S = 10.0  # far beyond the client timeout; the fixture's reset ends it

FAILURE_CASES = [
    (RateLimited(), ccxt.DDoSProtection, ccxt.RateLimitExceeded),
    (ServerError(500), ccxt.OperationFailed, ccxt.ExchangeError),
    (ServerError(502), ccxt.ExchangeNotAvailable, ccxt.ExchangeNotAvailable),
    (ServerError(503), ccxt.OperationFailed, ccxt.ExchangeNotAvailable),
    (ServerError(504), ccxt.RequestTimeout, ccxt.RequestTimeout),
    (Stall(STALL_S), ccxt.RequestTimeout, ccxt.RequestTimeout),
    (Disconnect(), ccxt.NetworkError, ccxt.NetworkError),
    (PermissionDenied(), ccxt.AuthenticationError, ccxt.PermissionDenied),
    (InvalidKey(), ccxt.AuthenticationError, ccxt.AuthenticationError),
]
CASE_IDS = [
    "429",
    "500",
    "502",
    "503",
    "504",
    "stall",
    "disconnect",
    "permission",
    "invalid-key",
]


@pytest.fixture
def binance_fast(
    binance: BinanceStandin, binance_key: BinanceKey, ccxt_factory: Callable[..., Any]
) -> Any:
    """A Binance client with a short timeout and its markets already loaded."""
    client = ccxt_factory(
        "binance",
        apiKey=binance_key.api_key,
        secret=binance_key.secret,
        timeout=CLIENT_TIMEOUT_MS,
        options={
            "fetchMarkets": {"types": ["spot"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
        },
    )
    client.load_markets()
    binance.reset_log()
    return client


@pytest.fixture
def coinbase_fast(coinbase: CoinbaseStandin, coinbase_client: Any) -> Any:
    coinbase_client.timeout = CLIENT_TIMEOUT_MS
    coinbase_client.load_markets()
    coinbase.reset_log()
    return coinbase_client


@pytest.mark.parametrize(("failure", "binance_error", "_"), FAILURE_CASES, ids=CASE_IDS)
def test_binance_failures_become_these_ccxt_errors(
    binance: BinanceStandin,
    binance_fast: Any,
    failure: Failure,
    binance_error: type[Exception],
    _: type[Exception],
) -> None:
    binance.inject(failure)

    with pytest.raises(ccxt.BaseError) as raised:
        binance_fast.fetch_balance()

    assert type(raised.value) is binance_error
    assert [r.answered_with for r in binance.requests] == [failure.name]


@pytest.mark.parametrize(
    ("failure", "_", "coinbase_error"), FAILURE_CASES, ids=CASE_IDS
)
def test_coinbase_failures_become_these_ccxt_errors(
    coinbase: CoinbaseStandin,
    coinbase_fast: Any,
    failure: Failure,
    _: type[Exception],
    coinbase_error: type[Exception],
) -> None:
    coinbase.inject(failure)

    with pytest.raises(ccxt.BaseError) as raised:
        coinbase_fast.fetch_balance()

    assert type(raised.value) is coinbase_error
    assert [r.answered_with for r in coinbase.requests] == [failure.name]


def test_ccxt_error_tree_the_translation_relies_on() -> None:
    assert issubclass(ccxt.PermissionDenied, ccxt.AuthenticationError)
    assert issubclass(ccxt.NetworkError, ccxt.OperationFailed)
    assert not issubclass(ccxt.OperationFailed, ccxt.NetworkError)
    assert not issubclass(ccxt.RateLimitExceeded, ccxt.DDoSProtection)
    assert issubclass(ccxt.RequestTimeout, ccxt.NetworkError)
    assert issubclass(ccxt.OrderNotFound, ccxt.InvalidOrder)


def test_binance_permission_refusal_after_a_signed_success_looks_like_ddos(
    binance: BinanceStandin, ccxt_factory: Callable[..., Any]
) -> None:
    """ccxt turns -2015 into DDoSProtection once a signed call has succeeded."""
    key = binance.add_key(BinanceKey.generate())
    binance.deposit("USDT", "1000")
    client = ccxt_factory("binance", apiKey=key.api_key, secret=key.secret)
    client.fetch_balance()

    with pytest.raises(ccxt.DDoSProtection, match="-2015"):
        client.create_order("BTC/USDT", "limit", "buy", 0.01, 40000)


def test_retry_after_reaches_the_client(
    binance: BinanceStandin, binance_fast: Any
) -> None:
    binance.inject(RateLimited(retry_after_s=7))

    with pytest.raises(ccxt.DDoSProtection):
        binance_fast.fetch_time()

    assert binance_fast.last_response_headers["Retry-After"] == "7"


def test_injection_hits_only_matching_requests_the_given_number_of_times(
    binance: BinanceStandin, binance_fast: Any
) -> None:
    binance.inject(ServerError(502), times=2, method="GET", path="/api/v3/klines")

    binance_fast.fetch_time()
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeNotAvailable):
            binance_fast.fetch_ohlcv("BTC/USDT", "1h", limit=5)
    binance_fast.fetch_ohlcv("BTC/USDT", "1h", limit=5)

    assert [(r.path, r.answered_with) for r in binance.requests] == [
        ("/api/v3/time", None),
        ("/api/v3/klines", "server_error"),
        ("/api/v3/klines", "server_error"),
        ("/api/v3/klines", None),
    ]


def test_request_rate_limit_answers_429_beyond_the_allowance(
    binance: BinanceStandin, binance_fast: Any
) -> None:
    now = [1_767_225_600.0]
    binance.clock = lambda: now[0]
    binance.limit_requests(max_requests=2, per_seconds=10)

    binance_fast.fetch_time()
    binance_fast.fetch_time()
    with pytest.raises(ccxt.DDoSProtection):
        binance_fast.fetch_time()
    now[0] += 10
    binance_fast.fetch_time()

    outcomes = [r.answered_with for r in binance.requests]
    assert outcomes == [None, None, "rate_limited", None]


def test_binance_order_accepted_but_answer_lost_is_found_by_client_id(
    binance: BinanceStandin, binance_fast: Any
) -> None:
    binance.deposit("USDT", "1000")
    binance.inject(Stall(STALL_S, process=True), method="POST", path="/api/v3/order")
    params = {"clientOrderId": "ct-lost-1"}

    with pytest.raises(ccxt.RequestTimeout):
        binance_fast.create_order("BTC/USDT", "limit", "buy", 0.01, 40000, params)
    found = binance_fast.fetch_order(None, "BTC/USDT", params)
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        binance_fast.create_order("BTC/USDT", "limit", "buy", 0.01, 40000, params)

    assert (found["clientOrderId"], found["status"]) == ("ct-lost-1", "open")
    assert len(binance.ledger.orders) == 1


def test_coinbase_order_accepted_but_connection_dropped_is_not_duplicated(
    coinbase: CoinbaseStandin, coinbase_fast: Any
) -> None:
    coinbase.deposit("USD", "1000")
    coinbase.inject(
        Disconnect(process=True), method="POST", path="/api/v3/brokerage/orders"
    )
    params = {"client_order_id": "ct-lost-2"}

    with pytest.raises(ccxt.NetworkError):
        coinbase_fast.create_order("BTC/USD", "limit", "buy", 0.01, 40000, params)
    (listed,) = coinbase_fast.fetch_open_orders("BTC/USD")
    resent = coinbase_fast.create_order("BTC/USD", "limit", "buy", 0.01, 40000, params)

    assert listed["clientOrderId"] == "ct-lost-2"
    assert resent["id"] == listed["id"]
    assert len(coinbase.ledger.orders) == 1


def test_malformed_json_passes_through_ccxt_silently(
    binance: BinanceStandin, binance_fast: Any
) -> None:
    """ccxt raises nothing for a truncated 200 body and hands back junk (candles
    made of None, a balance whose `info` is the raw text): the layer above must
    check what it gets."""
    binance.add_candles("BTC/USDT", "1h", synthetic_candles(1_767_225_600_000, 3))
    binance.inject(MalformedJson(), times=2)

    candles = binance_fast.fetch_ohlcv("BTC/USDT", "1h", limit=3)
    balance = binance_fast.fetch_balance()

    assert candles != []
    assert all(value is None for candle in candles for value in candle)
    assert isinstance(balance["info"], str)
    assert binance_fast.fetch_ohlcv("BTC/USDT", "1h", limit=3) != []
