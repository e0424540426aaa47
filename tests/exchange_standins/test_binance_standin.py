"""The Binance stand-in checks requests as Binance does and serves real ccxt."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from tests.conftest import CANARY_SECRET
from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin
from tests.support.exchange_standins.book import MarketSpec, synthetic_candles
from tests.support.exchange_standins.messages import RecordedRequest

# Binance's published signing example (SIGNED endpoint security documentation).
EXAMPLE_KEY = BinanceKey(
    api_key="vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
    secret="NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
    can_trade=True,
)
EXAMPLE_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
EXAMPLE_QUERY_SIGNATURE = (
    "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
)
EXAMPLE_SPLIT_SIGNATURE = (
    "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
)
EXAMPLE_NOW_S = 1_499_827_320.0
HOUR_MS = 3_600_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@pytest.fixture
def example(binance: BinanceStandin) -> BinanceStandin:
    """The stand-in set up for Binance's documented example request."""
    binance.add_key(EXAMPLE_KEY)
    binance.add_market(
        MarketSpec(
            "LTC",
            "BTC",
            Decimal("0.000001"),
            Decimal("0.01"),
            Decimal("0.01"),
            Decimal("100000"),
            Decimal("0.0001"),
            Decimal("0.1"),
        )
    )
    binance.clock = lambda: EXAMPLE_NOW_S
    return binance


def _order_test(
    query: str, body: str = "", api_key: str = EXAMPLE_KEY.api_key
) -> RecordedRequest:
    headers = [("Content-Type", "application/x-www-form-urlencoded")]
    if api_key:
        headers.append(("X-MBX-APIKEY", api_key))
    return RecordedRequest(
        "POST",
        "api.binance.com",
        "/api/v3/order/test",
        query,
        tuple(headers),
        body.encode(),
    )


def _error_code(standin: BinanceStandin, request: RecordedRequest) -> tuple[int, int]:
    reply = standin.answer(request)
    assert reply is not None
    body = json.loads(reply.body)
    return reply.status, body.get("code", 0)


def test_signature_over_the_query_string_matches_the_published_example(
    example: BinanceStandin,
) -> None:
    query = f"{EXAMPLE_QUERY}&signature={EXAMPLE_QUERY_SIGNATURE}"

    assert _error_code(example, _order_test(query)) == (200, 0)


def test_signature_over_query_then_body_matches_the_published_example(
    example: BinanceStandin,
) -> None:
    query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    body = (
        "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
        f"&signature={EXAMPLE_SPLIT_SIGNATURE}"
    )

    assert _error_code(example, _order_test(query, body)) == (200, 0)


@pytest.mark.parametrize(
    ("query", "api_key", "expected"),
    [
        (EXAMPLE_QUERY.replace("quantity=1", "quantity=2"), None, (400, -1022)),
        (EXAMPLE_QUERY, "", (401, -2014)),
        (EXAMPLE_QUERY, "short-key", (401, -2014)),
        (EXAMPLE_QUERY, "A" * 64, (401, -2015)),
        (EXAMPLE_QUERY.replace("&timestamp=1499827319559", ""), None, (400, -1102)),
        (
            EXAMPLE_QUERY.replace("recvWindow=5000", "recvWindow=60001"),
            None,
            (400, -1131),
        ),
    ],
    ids=[
        "tampered",
        "no-key",
        "malformed-key",
        "unknown-key",
        "no-timestamp",
        "window",
    ],
)
def test_bad_requests_get_binance_error_codes(
    example: BinanceStandin,
    query: str,
    api_key: str | None,
    expected: tuple[int, int],
) -> None:
    request = _order_test(
        f"{query}&signature={EXAMPLE_QUERY_SIGNATURE}",
        api_key=EXAMPLE_KEY.api_key if api_key is None else api_key,
    )

    assert _error_code(example, request) == expected


@pytest.mark.parametrize("offset_s", [-5.1, 1.0])
def test_timestamp_outside_the_window_is_refused(
    example: BinanceStandin, offset_s: float
) -> None:
    """Valid up to recvWindow (5 s) old, and less than 1 s ahead of the server."""
    example.clock = lambda: 1_499_827_319.559 - offset_s
    query = f"{EXAMPLE_QUERY}&signature={EXAMPLE_QUERY_SIGNATURE}"

    assert _error_code(example, _order_test(query)) == (400, -1021)


def test_default_load_markets_asks_for_spot_futures_and_wallet_data(
    binance: BinanceStandin, binance_client: Any
) -> None:
    binance_client.load_markets()

    market = binance_client.market("BTC/USDT")
    assert (market["precision"]["amount"], market["precision"]["price"]) == (
        0.00001,
        0.01,
    )
    assert market["limits"]["amount"]["min"] == 0.00001
    assert market["limits"]["cost"]["min"] == 5
    assert sorted((r.host, r.path) for r in binance.requests) == [
        ("api.binance.com", "/api/v3/exchangeInfo"),
        ("api.binance.com", "/sapi/v1/capital/config/getall"),
        ("api.binance.com", "/sapi/v1/margin/allPairs"),
        ("api.binance.com", "/sapi/v1/margin/allPairs"),
        ("api.binance.com", "/sapi/v1/margin/isolated/allPairs"),
        ("dapi.binance.com", "/dapi/v1/exchangeInfo"),
        ("fapi.binance.com", "/fapi/v1/exchangeInfo"),
    ]


def test_spot_only_options_load_markets_in_one_request(
    binance: BinanceStandin, ccxt_factory: Callable[..., Any]
) -> None:
    client = ccxt_factory(
        "binance",
        options={
            "fetchMarkets": {"types": ["spot"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
        },
    )

    client.load_markets()

    assert "ETH/BTC" in client.markets
    assert [r.path for r in binance.requests] == ["/api/v3/exchangeInfo"]


def test_ohlcv_pages_of_1000_cover_every_candle_once(
    binance: BinanceStandin, ccxt_factory: Callable[..., Any]
) -> None:
    candles = synthetic_candles(START_MS, 2500, "1h")
    binance.add_candles("BTC/USDT", "1h", candles)
    client = ccxt_factory("binance", options={"fetchMarkets": {"types": ["spot"]}})
    client.load_markets()
    binance.reset_log()

    fetched: list[list[Any]] = []
    since = START_MS
    while page := client.fetch_ohlcv("BTC/USDT", "1h", since=since, limit=1000):
        fetched += page
        since = page[-1][0] + HOUR_MS

    assert [row[0] for row in fetched] == [row[0] for row in candles]
    assert fetched[-1] == list(candles[-1])
    klines = binance.requests_to("/api/v3/klines")
    assert len(klines) == 4  # three full pages and the empty one that ends it
    assert {r.params["limit"] for r in klines} == {"1000"}


def test_ohlcv_without_since_returns_the_latest_candles(
    binance: BinanceStandin, binance_client: Any
) -> None:
    candles = synthetic_candles(START_MS, 50, "1h")
    binance.add_candles("BTC/USDT", "1h", candles)

    latest = binance_client.fetch_ohlcv("BTC/USDT", "1h", limit=5)

    assert [row[0] for row in latest] == [row[0] for row in candles[-5:]]


@pytest.mark.parametrize(
    ("window", "expected_hours"),
    [
        ({"startTime": START_MS + 2 * HOUR_MS}, [2, 3, 4]),
        ({"endTime": START_MS + 5 * HOUR_MS}, [3, 4, 5]),
        ({"startTime": START_MS + HOUR_MS, "endTime": START_MS + 2 * HOUR_MS}, [1, 2]),
        ({"startTime": START_MS + 1, "endTime": START_MS + HOUR_MS - 1}, []),
        ({}, [7, 8, 9]),
    ],
    ids=["start", "end", "start-and-end", "between-candles", "latest"],
)
def test_klines_window_follows_binance(
    binance: BinanceStandin,
    binance_client: Any,
    window: dict[str, int],
    expected_hours: list[int],
) -> None:
    """Open times within [startTime, endTime]; the oldest page from a startTime,
    the newest page otherwise."""
    binance.add_candles("BTC/USDT", "1h", synthetic_candles(START_MS, 10, "1h"))
    query = {"symbol": "BTCUSDT", "interval": "1h", "limit": 3} | window

    klines = binance_client.public_get_klines(query)

    assert [(k[0] - START_MS) // HOUR_MS for k in klines] == expected_hours
    assert all(k[6] == k[0] + HOUR_MS - 1 for k in klines)


def test_sandbox_mode_goes_to_the_binance_test_network(
    binance: BinanceStandin, binance_key: BinanceKey, ccxt_factory: Callable[..., Any]
) -> None:
    client = ccxt_factory(
        "binance", apiKey=binance_key.api_key, secret=binance_key.secret
    )
    client.set_sandbox_mode(True)

    client.fetch_balance()
    with pytest.raises(ccxt.NotSupported, match="sapi"):
        client.sapi_get_account_apirestrictions()

    assert {r.host for r in binance.requests} == {
        "testnet.binance.vision",
        "testnet.binancefuture.com",
    }


def test_more_than_1000_klines_is_refused(binance_client: Any) -> None:
    with pytest.raises(ccxt.BadRequest, match="-1130"):
        binance_client.public_get_klines(
            {"symbol": "BTCUSDT", "interval": "1h", "limit": 1001}
        )


def test_balance_shows_funds_held_by_open_orders(
    binance: BinanceStandin, binance_client: Any
) -> None:
    binance.deposit("USDT", "1000")
    binance_client.create_order("BTC/USDT", "limit", "buy", 0.01, 40000)

    balance = binance_client.fetch_balance()

    assert balance["USDT"] == {"free": 599.6, "used": 400.4, "total": 1000.0}


def test_order_lifecycle_by_our_client_order_id(
    binance: BinanceStandin, binance_client: Any
) -> None:
    binance.deposit("USDT", "1000")

    placed = binance_client.create_order(
        "BTC/USDT", "limit", "buy", 0.01, 40000, {"clientOrderId": "ct-0001"}
    )
    found = binance_client.fetch_order(None, "BTC/USDT", {"clientOrderId": "ct-0001"})
    open_orders = binance_client.fetch_open_orders("BTC/USDT")
    canceled = binance_client.cancel_order(placed["id"], "BTC/USDT")
    after = binance_client.fetch_order(placed["id"], "BTC/USDT")

    (post,) = binance.requests_to("/api/v3/order", "POST")
    assert post.params["newClientOrderId"] == "ct-0001"
    assert (placed["clientOrderId"], placed["status"]) == ("ct-0001", "open")
    assert (found["id"], found["status"]) == (placed["id"], "open")
    assert [o["id"] for o in open_orders] == [placed["id"]]
    assert canceled["status"] == after["status"] == "canceled"
    assert binance_client.fetch_balance()["USDT"]["free"] == 1000.0


def test_market_order_fills_at_once_and_settles(
    binance: BinanceStandin, binance_client: Any
) -> None:
    binance.deposit("BTC", "1")

    order = binance_client.create_order("BTC/USDT", "market", "sell", 0.01)
    trades = binance_client.fetch_my_trades("BTC/USDT")

    assert (order["status"], order["filled"], order["cost"]) == ("closed", 0.01, 500.0)
    assert order["fee"] == {"currency": "USDT", "cost": 0.5}
    assert [(t["order"], t["amount"], t["price"]) for t in trades] == [
        (order["id"], 0.01, 50000.0)
    ]
    assert binance_client.fetch_balance()["total"] == {"BTC": 0.99, "USDT": 499.5}


def test_client_order_id_of_an_open_order_cannot_be_reused(
    binance: BinanceStandin, binance_client: Any
) -> None:
    binance.deposit("USDT", "1000")
    params = {"clientOrderId": "ct-0002"}
    binance_client.create_order("BTC/USDT", "limit", "buy", 0.01, 40000, params)

    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        binance_client.create_order("BTC/USDT", "limit", "buy", 0.01, 40000, params)

    assert len(binance.ledger.orders) == 1


@pytest.mark.parametrize(
    ("quantity", "price", "error", "message"),
    [
        ("0.000015", "40000", ccxt.InvalidOrder, "LOT_SIZE"),
        ("0.01", "40000.005", ccxt.InvalidOrder, "PRICE_FILTER"),
        ("0.0001", "40000", ccxt.BadRequest, "NOTIONAL"),
    ],
)
def test_exchange_filters_are_enforced(
    binance: BinanceStandin,
    binance_client: Any,
    quantity: str,
    price: str,
    error: type[Exception],
    message: str,
) -> None:
    binance.deposit("USDT", "1000")
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT"}
    order |= {"timeInForce": "GTC", "quantity": quantity, "price": price}

    with pytest.raises(error, match=message):
        binance_client.private_post_order(order)

    assert binance.ledger.orders == {}


def test_order_beyond_the_balance_is_refused(binance_client: Any) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        binance_client.create_order("BTC/USDT", "limit", "buy", 0.01, 40000)


def test_unknown_orders_are_not_found(binance_client: Any) -> None:
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        binance_client.fetch_order("404", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        binance_client.cancel_order("404", "BTC/USDT")


def test_api_restrictions_report_the_key_rights(
    binance: BinanceStandin, ccxt_factory: Callable[..., Any]
) -> None:
    key = binance.add_key(BinanceKey.generate(can_withdraw=True, ip_restrict=True))
    client = ccxt_factory("binance", apiKey=key.api_key, secret=key.secret)

    rights = client.sapi_get_account_apirestrictions()

    assert rights["enableReading"] is True
    assert rights["enableSpotAndMarginTrading"] is False
    assert rights["enableWithdrawals"] is True
    assert rights["ipRestrict"] is True


def test_read_only_key_cannot_place_orders(
    binance: BinanceStandin, ccxt_factory: Callable[..., Any]
) -> None:
    key = binance.add_key(BinanceKey.generate())
    binance.deposit("USDT", "1000")
    client = ccxt_factory("binance", apiKey=key.api_key, secret=key.secret)

    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        client.create_order("BTC/USDT", "limit", "buy", 0.01, 40000)

    assert binance.ledger.orders == {}
    assert "POST" in binance.methods_seen()  # the stand-in saw it: the product must not


def test_wrong_secret_is_an_authentication_error_that_hides_the_secret(
    binance: BinanceStandin, binance_key: BinanceKey, ccxt_factory: Callable[..., Any]
) -> None:
    client = ccxt_factory("binance", apiKey=binance_key.api_key, secret=CANARY_SECRET)

    with pytest.raises(ccxt.AuthenticationError, match="-1022") as raised:
        client.fetch_balance()

    assert CANARY_SECRET not in str(raised.value)
    assert not any(r.carries(CANARY_SECRET) for r in binance.requests)


def test_client_clock_behind_the_server_is_an_invalid_nonce(
    binance: BinanceStandin, binance_client: Any
) -> None:
    real_clock = binance.clock
    binance.clock = lambda: real_clock() + 60

    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        binance_client.fetch_balance()
