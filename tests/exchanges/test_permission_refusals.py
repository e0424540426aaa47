"""A read-only key never produces a POST; withdrawals are never sent at all."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crypto_trader.errors import ForbiddenRequestError, PermissionDeniedError
from crypto_trader.exchanges.orders import OrderDesk, OrderRequest, OrderType, Side
from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import Permission
from tests.exchanges.conftest import Sleeps, add_key_cli, details, door_for, store
from tests.support.cli import CliRunner
from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin

ORDER = OrderRequest(
    "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.001"), Decimal("20000")
)


def test_read_only_key_place_and_cancel_refused_before_any_traffic(
    trusting: Installation, binance: BinanceStandin, sleeps: Sleeps
) -> None:
    store(
        trusting,
        "reader",
        binance.add_key(BinanceKey.generate(can_trade=True)),
        Permission.READ_ONLY,
    )

    with door_for(trusting, "reader", sleeps) as door:
        desk = OrderDesk(door, trusting.audit)
        with pytest.raises(PermissionDeniedError):
            desk.place(ORDER)
        assert binance.requests == []
        assert len(details(trusting, "PERMISSION_DENIED")) == 1
        with pytest.raises(PermissionDeniedError):
            desk.cancel("BTC/USDT", "12345")

    assert binance.requests == []
    assert len(details(trusting, "PERMISSION_DENIED")) == 2
    assert details(trusting, "TRADING_OPERATION") == []


def test_raw_endpoint_call_with_read_only_key_is_refused(
    trusting: Installation, binance: BinanceStandin, sleeps: Sleeps
) -> None:
    store(
        trusting,
        "reader",
        binance.add_key(BinanceKey.generate(can_trade=True)),
        Permission.READ_ONLY,
    )

    with (
        door_for(trusting, "reader", sleeps) as door,
        pytest.raises(PermissionDeniedError),
    ):
        door.client.privatePostOrder(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
        )

    assert binance.requests == []
    (denied,) = details(trusting, "PERMISSION_DENIED")
    assert denied["label"] == "reader"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.withdraw("USDT", 10, "TXYZaddressThatIsLongEnough00000"),
        lambda c: c.sapiPostCapitalWithdrawApply({"coin": "USDT", "amount": "10"}),
        lambda c: c.transfer("USDT", 10, "spot", "funding"),
    ],
    ids=["withdraw", "raw-withdraw", "transfer"],
)
def test_withdrawals_and_transfers_refused_for_a_trading_key(
    trusting: Installation, binance: BinanceStandin, sleeps: Sleeps, call: object
) -> None:
    store(
        trusting,
        "trader",
        binance.add_key(BinanceKey.generate(can_trade=True)),
        Permission.TRADING,
    )
    binance.deposit("USDT", "1000")

    with (
        door_for(trusting, "trader", sleeps) as door,
        pytest.raises(ForbiddenRequestError, match="never sends withdrawals"),
    ):
        call(door.client)  # type: ignore[operator]

    assert [r.method for r in binance.requests if r.method != "GET"] == []
    assert not any(
        "withdraw" in r.path or "transfer" in r.path for r in binance.requests
    )


def test_key_downgraded_between_two_orders_has_the_second_refused(
    trusting: Installation, binance: BinanceStandin, sleeps: Sleeps
) -> None:
    store(
        trusting,
        "trader",
        binance.add_key(BinanceKey.generate(can_trade=True)),
        Permission.TRADING,
    )
    binance.deposit("USDT", "1000")

    with door_for(trusting, "trader", sleeps) as door:
        desk = OrderDesk(door, trusting.audit)
        desk.place(ORDER)
        trusting.vault.set_permission("trader", Permission.READ_ONLY)
        binance.reset_log()
        with pytest.raises(PermissionDeniedError):
            desk.place(ORDER)

    assert binance.methods_seen() <= {"GET"}
    assert binance.requests_to("/api/v3/order", "POST") == []
    assert len(details(trusting, "PERMISSION_DENIED")) == 1


def test_cli_order_place_and_cancel_with_read_only_key_exit_3_without_traffic(
    trusting_cli: CliRunner, binance: BinanceStandin
) -> None:
    key = binance.add_key(BinanceKey.generate(can_trade=True))
    assert add_key_cli(trusting_cli, "reader", key, "read-only", "--no-check").code == 0

    placed = trusting_cli(
        "order",
        "place",
        "--key",
        "reader",
        "--symbol",
        "BTC/USDT",
        "--side",
        "buy",
        "--type",
        "limit",
        "--amount",
        "0.001",
        "--price",
        "20000",
        "--yes",
    )
    cancelled = trusting_cli(
        "order", "cancel", "--key", "reader", "--symbol", "BTC/USDT", "42"
    )
    audit = trusting_cli("audit", "show", "--json")

    assert (placed.code, cancelled.code) == (3, 3), placed.err + cancelled.err
    assert "set-permission" in placed.err
    assert binance.requests == []
    assert audit.out.count("PERMISSION_DENIED") == 2, audit.out
