"""A timed-out order is looked up by our client order id, never sent twice."""

from __future__ import annotations

from decimal import Decimal

from crypto_trader.exchanges.door import Credentials, DoorSettings, ExchangeDoor
from crypto_trader.exchanges.orders import OrderDesk, OrderRequest, OrderType, Side
from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import Permission
from crypto_trader.vault.secrets import KeyMaterial, SecretStr
from tests.exchanges.conftest import Sleeps, details, store
from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin
from tests.support.exchange_standins.coinbase import CoinbaseStandin
from tests.support.exchange_standins.coinbase_auth import CoinbaseKey
from tests.support.exchange_standins.failures import Stall
from tests.support.exchange_standins.tls import TestAuthorities

ORDER = OrderRequest(
    "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.001"), Decimal("20000")
)


def quick_door(
    installation: Installation,
    exchange: str,
    api_key: str,
    secret: str,
    authorities: TestAuthorities,
    sleeps: Sleeps,
) -> ExchangeDoor:
    material = KeyMaterial(SecretStr(api_key), SecretStr(secret))
    settings = DoorSettings(extra_ca_file=authorities.ca_cert_path, timeout_ms=500)
    return ExchangeDoor(
        exchange, settings, Credentials("trader", material, installation.gate), sleeps
    )


def assert_submitted_then_placed(installation: Installation, client_id: str) -> None:
    records = details(installation, "TRADING_OPERATION")
    assert [r["action"] for r in records] == ["submitted", "placed"]
    assert {r["client_order_id"] for r in records} == {client_id}


def test_binance_order_timing_out_is_found_by_client_order_id(
    trusting: Installation,
    binance: BinanceStandin,
    standin_authorities: TestAuthorities,
    sleeps: Sleeps,
) -> None:
    key = binance.add_key(BinanceKey.generate(can_trade=True))
    store(trusting, "trader", key, Permission.TRADING)
    binance.deposit("USDT", "1000")
    binance.inject(Stall(seconds=5, process=True), method="POST", path="/api/v3/order")

    with quick_door(
        trusting, "binance", key.api_key, key.secret, standin_authorities, sleeps
    ) as door:
        placed = OrderDesk(door, trusting.audit).place(ORDER)

    assert str(placed["clientOrderId"]).startswith("ct-")
    assert len(binance.requests_to("/api/v3/order", "POST")) == 1
    assert len(binance.ledger.orders) == 1
    (only,) = binance.ledger.orders.values()
    assert str(placed["id"]) == str(only.order_id)
    assert_submitted_then_placed(trusting, placed["clientOrderId"])


def test_coinbase_order_timing_out_is_found_by_client_order_id(
    trusting: Installation,
    coinbase: CoinbaseStandin,
    standin_authorities: TestAuthorities,
    sleeps: Sleeps,
) -> None:
    key = coinbase.add_key(CoinbaseKey.generate(can_trade=True))
    store(trusting, "trader", key, Permission.TRADING)
    coinbase.deposit("USD", "1000")
    order = OrderRequest(
        "BTC/USD", Side.BUY, OrderType.LIMIT, Decimal("0.001"), Decimal("20000")
    )
    coinbase.inject(
        Stall(seconds=5, process=True), method="POST", path="/api/v3/brokerage/orders"
    )

    with quick_door(
        trusting, "coinbase", key.name, key.secret, standin_authorities, sleeps
    ) as door:
        placed = OrderDesk(door, trusting.audit).place(order)

    posts = coinbase.requests_to("/api/v3/brokerage/orders", "POST")
    assert len(posts) == 1
    assert len(coinbase.ledger.orders) == 1
    (only,) = coinbase.ledger.orders.values()
    assert str(placed["id"]) == str(only.order_id)
    assert str(placed["clientOrderId"]).startswith("ct-")
    assert_submitted_then_placed(trusting, placed["clientOrderId"])
