"""Reads back off and retry within a bound; orders are never re-sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crypto_trader.errors import (
    ExchangeError,
    OrderOutcomeUnknownError,
    RateLimitedError,
)
from crypto_trader.exchanges.orders import OrderDesk, OrderRequest, OrderType, Side
from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import Permission
from tests.exchanges.conftest import Sleeps, details, door_for, store
from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin
from tests.support.exchange_standins.failures import Failure, RateLimited, ServerError

ACCOUNT = "/api/v3/account"
ORDER_PATH = "/api/v3/order"


@pytest.fixture
def reader(trusting: Installation, binance: BinanceStandin) -> Installation:
    store(
        trusting,
        "k",
        binance.add_key(BinanceKey.generate(can_trade=True)),
        Permission.TRADING,
    )
    binance.deposit("USDT", "1000")
    return trusting


@pytest.mark.parametrize(
    "failure", [RateLimited(), ServerError(503)], ids=["429", "503"]
)
def test_read_succeeds_after_backing_off(
    reader: Installation, binance: BinanceStandin, sleeps: Sleeps, failure: Failure
) -> None:
    binance.inject(failure, times=2, method="GET", path=ACCOUNT)

    with door_for(reader, "k", sleeps) as door:
        balance = door.read("fetch_balance", lambda c: c.fetch_balance())

    assert balance["total"]["USDT"] == 1000
    assert len(binance.requests_to(ACCOUNT, "GET")) == 3
    assert len(sleeps) == 2
    assert 0 < sleeps[0] < sleeps[1]


def test_read_gives_up_after_its_attempts_with_bounded_waits(
    reader: Installation, binance: BinanceStandin, sleeps: Sleeps
) -> None:
    binance.inject(RateLimited(), times=50, method="GET", path=ACCOUNT)

    with door_for(reader, "k", sleeps) as door:
        attempts = door.settings.read_attempts
        with pytest.raises(RateLimitedError):
            door.read("fetch_balance", lambda c: c.fetch_balance())

    assert len(binance.requests_to(ACCOUNT, "GET")) == attempts
    assert len(sleeps) == attempts - 1
    assert sleeps == sorted(sleeps)
    assert max(sleeps) <= door.settings.max_backoff_s


@pytest.mark.parametrize(
    ("failure", "error"),
    # A 503 leaves the outcome unknown: the order is looked up by our id (not found
    # here), never sent again.
    [(ServerError(503), OrderOutcomeUnknownError), (RateLimited(), RateLimitedError)],
    ids=["503", "429"],
)
def test_an_order_is_never_retried(
    reader: Installation,
    binance: BinanceStandin,
    sleeps: Sleeps,
    failure: Failure,
    error: type[ExchangeError],
) -> None:
    binance.inject(failure, times=5, method="POST", path=ORDER_PATH)
    order = OrderRequest(
        "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.001"), Decimal("20000")
    )

    with door_for(reader, "k", sleeps) as door, pytest.raises(error):
        OrderDesk(door, reader.audit).place(order)

    assert len(binance.requests_to(ORDER_PATH, "POST")) == 1
    assert sleeps == []
    actions = [d["action"] for d in details(reader, "TRADING_OPERATION")]
    assert actions == ["submitted"]
