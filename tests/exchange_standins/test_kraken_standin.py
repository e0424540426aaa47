"""The Kraken stand-in checks API-Sign and the nonce as Kraken does and serves ccxt."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import ccxt
import pytest

from tests.conftest import CANARY_SECRET
from tests.support.exchange_standins.book import synthetic_candles
from tests.support.exchange_standins.failures import (
    Failure,
    InvalidKey,
    PermissionDenied,
    RateLimited,
    ServerError,
)
from tests.support.exchange_standins.kraken import KrakenKey, KrakenStandin
from tests.support.exchange_standins.messages import RecordedRequest

# Kraken's published API-Sign example (REST authentication guide).
EXAMPLE_KEY = KrakenKey(
    api_key="example-key",
    secret=(
        "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtu"
        "Zuj6F1huXg=="
    ),
    can_trade=True,
)
EXAMPLE_BODY = (
    "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
)
EXAMPLE_SIGN = (
    "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8"
    "ndwLUQ=="
)
HOUR_MS = 3_600_000
NOW_S = 1_767_225_600.0


@pytest.fixture
def kraken_key(kraken: KrakenStandin) -> KrakenKey:
    return kraken.add_key(KrakenKey.generate(can_trade=True))


@pytest.fixture
def kraken_client(kraken_key: KrakenKey, ccxt_factory: Callable[..., Any]) -> Any:
    return ccxt_factory("kraken", apiKey=kraken_key.api_key, secret=kraken_key.secret)


def _add_order(
    body: str, sign: str = EXAMPLE_SIGN, api_key: str = EXAMPLE_KEY.api_key
) -> RecordedRequest:
    headers = (
        ("API-Key", api_key),
        ("API-Sign", sign),
        ("Content-Type", "application/x-www-form-urlencoded"),
    )
    return RecordedRequest(
        "POST", "api.kraken.com", "/0/private/AddOrder", "", headers, body.encode()
    )


def _errors(standin: KrakenStandin, request: RecordedRequest) -> list[str]:
    reply = standin.answer(request)
    assert reply is not None
    errors: list[str] = json.loads(reply.body)["error"]
    return errors


def test_api_sign_matches_the_published_example_and_the_nonce_only_grows(
    kraken: KrakenStandin,
) -> None:
    kraken.add_key(EXAMPLE_KEY)
    kraken.deposit("USD", "50000")

    first = _errors(kraken, _add_order(EXAMPLE_BODY))
    replay = _errors(kraken, _add_order(EXAMPLE_BODY))

    assert first == []
    assert replay == ["EAPI:Invalid nonce"]
    assert len(kraken.ledger.orders) == 1


@pytest.mark.parametrize(
    ("body", "api_key", "expected"),
    [
        (EXAMPLE_BODY.replace("volume=1.25", "volume=12.5"), None, "Invalid signature"),
        (EXAMPLE_BODY, "someone-else", "Invalid key"),
    ],
    ids=["tampered", "unknown-key"],
)
def test_bad_signatures_get_kraken_errors(
    kraken: KrakenStandin, body: str, api_key: str | None, expected: str
) -> None:
    kraken.add_key(EXAMPLE_KEY)
    request = _add_order(body, api_key=api_key or EXAMPLE_KEY.api_key)

    assert _errors(kraken, request) == [f"EAPI:{expected}"]
    assert kraken.ledger.orders == {}


def test_load_markets_reads_pairs_and_assets(
    kraken: KrakenStandin, kraken_client: Any
) -> None:
    kraken_client.load_markets()

    market = kraken_client.market("BTC/USD")
    assert (market["id"], market["precision"]["price"]) == ("XXBTZUSD", 0.1)
    assert market["limits"]["cost"]["min"] == 0.5
    assert [r.path for r in kraken.requests] == [
        "/0/public/Assets",
        "/0/public/AssetPairs",
    ]


def test_ohlc_serves_only_the_last_720_candles(
    kraken: KrakenStandin, kraken_client: Any
) -> None:
    now_ms = int(NOW_S * 1000)
    candles = synthetic_candles(now_ms - 999 * HOUR_MS, 1000, "1h")
    kraken.add_candles("BTC/USD", "1h", candles)
    kraken.clock = lambda: NOW_S

    fetched = kraken_client.fetch_ohlcv("BTC/USD", "1h", since=candles[0][0])

    assert [row[0] for row in fetched] == [row[0] for row in candles[-720:]]


def test_order_lifecycle_with_our_client_order_id(
    kraken: KrakenStandin, kraken_client: Any
) -> None:
    kraken.deposit("USD", "1000")

    placed = kraken_client.create_order(
        "BTC/USD", "limit", "buy", 0.01, 40000, {"clientOrderId": "ct-k1"}
    )
    (listed,) = kraken_client.fetch_open_orders(params={"clientOrderId": "ct-k1"})
    kraken_client.cancel_order(placed["id"])
    after = kraken_client.fetch_order(placed["id"])

    (post,) = kraken.requests_to("/0/private/AddOrder")
    assert post.params["cl_ord_id"] == "ct-k1"
    assert (listed["id"], listed["clientOrderId"]) == (placed["id"], "ct-k1")
    assert after["status"] == "canceled"
    assert kraken_client.fetch_balance()["USD"] == {
        "free": 1000.0,
        "used": 0.0,
        "total": 1000.0,
    }


def test_read_only_key_cannot_place_orders(
    kraken: KrakenStandin, ccxt_factory: Callable[..., Any]
) -> None:
    key = kraken.add_key(KrakenKey.generate())
    client = ccxt_factory("kraken", apiKey=key.api_key, secret=key.secret)

    with pytest.raises(ccxt.PermissionDenied):
        client.create_order("BTC/USD", "limit", "buy", 0.01, 40000)

    assert kraken.ledger.orders == {}


def test_wrong_secret_is_only_an_exchange_error_in_ccxt(
    kraken: KrakenStandin, kraken_key: KrakenKey, ccxt_factory: Callable[..., Any]
) -> None:
    """ccxt has no mapping for EAPI:Invalid signature: the layer above must add it."""
    wrong_secret = CANARY_SECRET.encode().hex()
    client = ccxt_factory("kraken", apiKey=kraken_key.api_key, secret=wrong_secret)

    with pytest.raises(ccxt.ExchangeError, match="EAPI:Invalid signature") as raised:
        client.fetch_balance()

    assert type(raised.value) is ccxt.ExchangeError
    assert wrong_secret not in str(raised.value)
    assert not any(r.carries(wrong_secret) for r in kraken.requests)


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (RateLimited(), ccxt.DDoSProtection),
        (ServerError(500), ccxt.ExchangeNotAvailable),
        (ServerError(502), ccxt.ExchangeNotAvailable),
        (PermissionDenied(), ccxt.PermissionDenied),
        (InvalidKey(), ccxt.AuthenticationError),
    ],
    ids=["rate-limit", "500", "502", "permission", "invalid-key"],
)
def test_kraken_failures_become_these_ccxt_errors(
    kraken: KrakenStandin,
    kraken_client: Any,
    failure: Failure,
    expected: type[Exception],
) -> None:
    kraken_client.load_markets()
    kraken.inject(failure)

    with pytest.raises(ccxt.BaseError) as raised:
        kraken_client.fetch_balance()

    assert type(raised.value) is expected


def test_ccxt_has_no_kraken_sandbox(kraken_client: Any) -> None:
    assert kraken_client.urls.get("test") is None
    with pytest.raises(TypeError):
        kraken_client.set_sandbox_mode(True)
