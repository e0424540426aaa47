"""The Coinbase stand-in checks the ES256 JWT as Coinbase does and serves real ccxt."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import ccxt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.support.exchange_standins.book import synthetic_candles
from tests.support.exchange_standins.coinbase import CoinbaseStandin
from tests.support.exchange_standins.coinbase_auth import CoinbaseKey
from tests.support.exchange_standins.messages import RecordedRequest

NOW_S = 1_767_225_600
HOUR_MS = 3_600_000
START_MS = NOW_S * 1000
PERMISSIONS_URI = "GET api.coinbase.com/api/v3/brokerage/key_permissions"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(
    key: CoinbaseKey,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
) -> str:
    """A CDP JWT signed with `key`, with fields replaced (None removes one)."""
    base_header = {"alg": "ES256", "kid": key.name, "nonce": "6e6f6e6365", "typ": "JWT"}
    base_claims = {
        "sub": key.name,
        "iss": "cdp",
        "nbf": NOW_S,
        "exp": NOW_S + 120,
        "uri": PERMISSIONS_URI,
    }
    full_header = {
        k: v for k, v in (base_header | (header or {})).items() if v is not None
    }
    full_claims = {
        k: v for k, v in (base_claims | (claims or {})).items() if v is not None
    }
    signing_input = (
        f"{_b64(json.dumps(full_header).encode())}."
        f"{_b64(json.dumps(full_claims).encode())}"
    )
    private_key = serialization.load_pem_private_key(key.secret.encode(), None)
    assert isinstance(private_key, ec.EllipticCurvePrivateKey)
    der = private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{signing_input}.{_b64(signature)}"


def _permissions_request(authorization: str | None) -> RecordedRequest:
    headers = () if authorization is None else (("Authorization", authorization),)
    return RecordedRequest(
        "GET", "api.coinbase.com", "/api/v3/brokerage/key_permissions", "", headers, b""
    )


@pytest.fixture
def signer(coinbase: CoinbaseStandin) -> CoinbaseKey:
    coinbase.clock = lambda: NOW_S + 0.5
    return coinbase.add_key(CoinbaseKey.generate())


@pytest.mark.parametrize("issuer", ["cdp", "coinbase-cloud"])
def test_jwt_signed_for_this_request_is_accepted(
    coinbase: CoinbaseStandin, signer: CoinbaseKey, issuer: str
) -> None:
    token = make_jwt(signer, claims={"iss": issuer})

    reply = coinbase.answer(_permissions_request(f"Bearer {token}"))

    assert reply is not None
    assert reply.status == 200
    assert json.loads(reply.body)["can_view"] is True


@pytest.mark.parametrize(
    ("header", "claims"),
    [
        ({}, {"uri": "GET api.coinbase.com/api/v3/brokerage/accounts"}),
        ({}, {"uri": "POST api.coinbase.com/api/v3/brokerage/key_permissions"}),
        ({}, {"uri": "GET api.exchange.coinbase.com/api/v3/brokerage/key_permissions"}),
        ({}, {"uri": None}),
        ({}, {"nbf": NOW_S - 121, "exp": NOW_S - 1}),
        ({}, {"nbf": NOW_S + 10, "exp": NOW_S + 130}),
        ({}, {"exp": NOW_S + 3600}),
        ({}, {"iss": "someone-else"}),
        ({}, {"sub": "organizations/x/apiKeys/y"}),
        ({"kid": "organizations/x/apiKeys/y"}, {}),
        ({"alg": "HS256"}, {}),
    ],
    ids=[
        "other-path",
        "other-method",
        "other-host",
        "no-uri",
        "expired",
        "not-yet-valid",
        "lifetime-over-120s",
        "issuer",
        "subject",
        "unknown-kid",
        "algorithm",
    ],
)
def test_jwt_that_does_not_fit_the_request_is_unauthorized(
    coinbase: CoinbaseStandin,
    signer: CoinbaseKey,
    header: dict[str, Any],
    claims: dict[str, Any],
) -> None:
    token = make_jwt(signer, header, claims)

    reply = coinbase.answer(_permissions_request(f"Bearer {token}"))

    assert reply is not None
    assert (reply.status, reply.body) == (401, b"Unauthorized\n")


def test_jwt_signed_by_another_key_is_unauthorized(
    coinbase: CoinbaseStandin, signer: CoinbaseKey
) -> None:
    impostor = CoinbaseKey(signer.name, CoinbaseKey.generate().secret)
    token = make_jwt(impostor)

    reply = coinbase.answer(_permissions_request(f"Bearer {token}"))

    assert reply is not None
    assert reply.status == 401


@pytest.mark.parametrize("authorization", [None, "Bearer", "Basic abc", "Bearer a.b.c"])
def test_missing_or_garbled_authorization_is_unauthorized(
    coinbase: CoinbaseStandin, signer: CoinbaseKey, authorization: str | None
) -> None:
    reply = coinbase.answer(_permissions_request(authorization))

    assert reply is not None
    assert (reply.status, reply.body) == (401, b"Unauthorized\n")


def test_load_markets_reads_products_currencies_and_fee_tier(
    coinbase: CoinbaseStandin, coinbase_client: Any
) -> None:
    coinbase_client.load_markets()

    market = coinbase_client.market("BTC/USD")
    assert (market["precision"]["amount"], market["precision"]["price"]) == (
        1e-08,
        0.01,
    )
    assert market["limits"]["cost"]["min"] == 1
    assert market["taker"] == 0.012
    assert sorted(
        r.path + ("?" + r.query if r.query else "") for r in coinbase.requests
    ) == [
        "/api/v3/brokerage/market/products",
        "/api/v3/brokerage/market/products?product_type=FUTURE",
        "/api/v3/brokerage/transaction_summary",
        "/v2/currencies",
        "/v2/currencies/crypto",
        "/v2/exchange-rates",
    ]


def test_ohlcv_pages_of_300_cover_every_candle_once(
    coinbase: CoinbaseStandin, coinbase_client: Any
) -> None:
    candles = synthetic_candles(START_MS, 700, "1h")
    coinbase.add_candles("BTC/USD", "1h", candles)
    coinbase_client.load_markets()
    coinbase.reset_log()

    fetched: list[list[Any]] = []
    since = START_MS
    while page := coinbase_client.fetch_ohlcv("BTC/USD", "1h", since=since):
        fetched += page
        since = page[-1][0] + HOUR_MS

    assert [row[0] for row in fetched] == [row[0] for row in candles]
    requests = coinbase.requests_to("/api/v3/brokerage/market/products/BTC-USD/candles")
    assert len(requests) == 4  # 300 + 300 + 100, then an empty page
    assert {r.params["granularity"] for r in requests} == {"ONE_HOUR"}


def test_more_than_350_candles_per_request_is_refused(coinbase_client: Any) -> None:
    with pytest.raises(ccxt.BadRequest, match="less than 350"):
        coinbase_client.v3PublicGetBrokerageMarketProductsProductIdCandles(
            {
                "product_id": "BTC-USD",
                "granularity": "ONE_HOUR",
                "start": str(NOW_S),
                "end": str(NOW_S + 351 * 3600),
            }
        )


def test_balances_in_v2_and_v3_accounts(
    coinbase: CoinbaseStandin, coinbase_client: Any
) -> None:
    coinbase.deposit("USD", "1000")
    coinbase_client.create_order(
        "BTC/USD", "limit", "buy", 0.01, 40000, {"client_order_id": "ct-b1"}
    )

    default = coinbase_client.fetch_balance()
    advanced = coinbase_client.fetch_balance({"v3": True})

    # the v2 wallet balance ccxt reads by default does not show the hold
    assert default["USD"] == {"free": 1000.0, "used": 0.0, "total": 1000.0}
    assert advanced["USD"] == {"free": 597.6, "used": 402.4, "total": 1000.0}
    assert [r.path for r in coinbase.requests_to("/v2/accounts")] == ["/v2/accounts"]


def test_order_lifecycle_with_our_client_order_id(
    coinbase: CoinbaseStandin, coinbase_client: Any
) -> None:
    coinbase.deposit("USD", "1000")

    placed = coinbase_client.create_order(
        "BTC/USD", "limit", "buy", 0.01, 40000, {"client_order_id": "ct-c1"}
    )
    found = coinbase_client.fetch_order(placed["id"])
    open_orders = coinbase_client.fetch_open_orders()
    coinbase_client.cancel_order(placed["id"])
    after = coinbase_client.fetch_order(placed["id"])

    (post,) = coinbase.requests_to("/api/v3/brokerage/orders", "POST")
    assert post.json()["client_order_id"] == "ct-c1"
    assert (found["clientOrderId"], found["status"]) == ("ct-c1", "open")
    assert [o["id"] for o in open_orders] == [placed["id"]]
    assert after["status"] == "canceled"
    assert coinbase_client.fetch_balance({"v3": True})["USD"]["free"] == 1000.0


def test_ccxt_replaces_a_camel_case_client_order_id_with_its_own(
    coinbase: CoinbaseStandin, coinbase_client: Any
) -> None:
    """Only `client_order_id` reaches Coinbase; ccxt drops `clientOrderId`."""
    coinbase.deposit("USD", "1000")

    placed = coinbase_client.create_order(
        "BTC/USD", "limit", "buy", 0.01, 40000, {"clientOrderId": "ct-lost"}
    )

    assert placed["clientOrderId"].startswith("ccxt-")
    assert "ct-lost" not in coinbase.ledger.by_client_id


def test_a_client_order_id_used_before_returns_the_same_order(
    coinbase: CoinbaseStandin, coinbase_client: Any
) -> None:
    coinbase.deposit("USD", "1000")
    params = {"client_order_id": "ct-c2"}

    first = coinbase_client.create_order("BTC/USD", "limit", "buy", 0.01, 40000, params)
    again = coinbase_client.create_order("BTC/USD", "limit", "buy", 0.01, 40000, params)

    assert again["id"] == first["id"]
    assert len(coinbase.ledger.orders) == 1


def test_market_buy_spends_quote_and_fills(
    coinbase: CoinbaseStandin, coinbase_client: Any
) -> None:
    coinbase.deposit("USD", "1000")

    placed = coinbase_client.create_order(
        "BTC/USD", "market", "buy", 0.01, 50000, {"client_order_id": "ct-c3"}
    )
    order = coinbase_client.fetch_order(placed["id"])

    (post,) = coinbase.requests_to("/api/v3/brokerage/orders", "POST")
    assert post.json()["order_configuration"] == {
        "market_market_ioc": {"quote_size": "500"}
    }
    assert (order["status"], order["filled"]) == ("closed", 0.01)
    balance = coinbase_client.fetch_balance({"v3": True})
    assert (balance["BTC"]["total"], balance["USD"]["total"]) == (0.01, 497.0)


@pytest.mark.parametrize(
    ("configuration", "error", "message"),
    [
        (
            {"base_size": "0.000000001", "limit_price": "40000"},
            ccxt.ExchangeError,
            "SIZE_PRECISION",
        ),
        (
            {"base_size": "0.01", "limit_price": "40000.001"},
            ccxt.ExchangeError,
            "PRICE_PRECISION",
        ),
        (
            {"base_size": "0.00002", "limit_price": "40000"},
            ccxt.ExchangeError,
            "TOO_SMALL",
        ),
        (
            {"base_size": "1", "limit_price": "40000"},
            ccxt.InsufficientFunds,
            "INSUFFICIENT",
        ),
    ],
    ids=["size-precision", "price-precision", "too-small", "funds"],
)
def test_refused_orders_come_back_as_success_false(
    coinbase: CoinbaseStandin,
    coinbase_client: Any,
    configuration: dict[str, str],
    error: type[Exception],
    message: str,
) -> None:
    coinbase.deposit("USD", "1000")
    body = {"client_order_id": "ct-c4", "product_id": "BTC-USD", "side": "BUY"}
    body["order_configuration"] = {"limit_limit_gtc": configuration}  # type: ignore[assignment]

    with pytest.raises(error, match=message):
        coinbase_client.v3PrivatePostBrokerageOrders(body)

    assert coinbase.ledger.orders == {}


def test_unknown_orders(coinbase_client: Any) -> None:
    with pytest.raises(ccxt.ExchangeError, match="not found"):
        coinbase_client.fetch_order("00000000-0000-0000-0000-000000000000")
    with pytest.raises(ccxt.BadRequest, match="cancelOrders"):
        coinbase_client.cancel_order("00000000-0000-0000-0000-000000000000")


def test_key_permissions_report_the_key_rights(
    coinbase: CoinbaseStandin, ccxt_factory: Callable[..., Any]
) -> None:
    key = coinbase.add_key(CoinbaseKey.generate(can_transfer=True))
    client = ccxt_factory("coinbase", apiKey=key.name, secret=key.secret)

    rights = client.v3PrivateGetBrokerageKeyPermissions()

    assert (rights["can_view"], rights["can_trade"], rights["can_transfer"]) == (
        True,
        False,
        True,
    )


def test_read_only_key_cannot_place_orders(
    coinbase: CoinbaseStandin, ccxt_factory: Callable[..., Any]
) -> None:
    key = coinbase.add_key(CoinbaseKey.generate())
    coinbase.deposit("USD", "1000")
    client = ccxt_factory("coinbase", apiKey=key.name, secret=key.secret)

    with pytest.raises(ccxt.PermissionDenied):
        client.create_order(
            "BTC/USD", "limit", "buy", 0.01, 40000, {"client_order_id": "ct-c5"}
        )

    assert coinbase.ledger.orders == {}


def test_secret_of_another_key_is_an_authentication_error_that_hides_it(
    coinbase: CoinbaseStandin,
    coinbase_key: CoinbaseKey,
    ccxt_factory: Callable[..., Any],
) -> None:
    wrong_secret = CoinbaseKey.generate().secret
    client = ccxt_factory("coinbase", apiKey=coinbase_key.name, secret=wrong_secret)

    with pytest.raises(ccxt.AuthenticationError) as raised:
        client.fetch_balance()

    assert not isinstance(raised.value, ccxt.PermissionDenied)
    secret_body = "".join(wrong_secret.splitlines()[1:-1])
    assert secret_body not in str(raised.value)
    assert not any(r.carries(secret_body) for r in coinbase.requests)


def test_server_clock_past_the_token_lifetime_is_an_authentication_error(
    coinbase: CoinbaseStandin, coinbase_client: Any
) -> None:
    real_clock = coinbase.clock
    coinbase.clock = lambda: real_clock() + 121

    with pytest.raises(ccxt.AuthenticationError, match="401"):
        coinbase_client.fetch_balance()


def test_ccxt_has_no_coinbase_sandbox(coinbase_client: Any) -> None:
    """set_sandbox_mode fails with a TypeError (not NotSupported) in this ccxt."""
    assert coinbase_client.urls.get("test") is None
    with pytest.raises(TypeError):
        coinbase_client.set_sandbox_mode(True)
