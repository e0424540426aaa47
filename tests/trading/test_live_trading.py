"""Live sessions on the Binance stand-in, end to end: real ccxt, real TLS, a child.

Each test releases candles one at a time (see live_support) and checks what the
exchange holds against what the books say: orders by client order id, fills,
the position and the cash. Also: a read-only key never starts, a key downgraded
while the runner is up stops it before its next order, a daily loss halt and
`trade stop` cancel what rests at the exchange.
"""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal

import pytest

from crypto_trader.home import Home
from tests.support.cli import CliRunner
from tests.support.exchange_standins.binance import BinanceStandin
from tests.support.exchange_standins.tls import TestAuthorities
from tests.trading.conftest import (
    audit_details,
    sessions,
    trade_status,
    trading_records,
)
from tests.trading.live_support import (
    CASH,
    DEPOSIT_USDT,
    FEE_NOT_BOOKED,
    HIGH,
    KEY,
    LIMIT,
    LOW,
    ORDER_PATH,
    TRADE_ARGS,
    TYPE_NOT_STORED,
    LiveRig,
    assert_books_agree,
    live_rig,
)

PLACED_AND_FILLED = ["submitted", "placed", "filled"]
PLACED_AND_CANCELLED = ["submitted", "placed", "cancelled"]


@pytest.mark.slow
def test_market_orders_fill_at_the_exchange_and_the_books_follow(
    rig: LiveRig,
) -> None:
    rig.start()
    rig.wait_ready()

    for close in (LOW, HIGH, LOW):
        rig.step(close)

    orders = rig.orders()
    assert [(o["side"], o["type"], o["state"]) for o in orders] == [
        ("buy", "market", "filled"),
        ("sell", "market", "filled"),
        ("buy", "market", "filled"),
    ]
    ids = [o["client_id"] for o in orders]
    assert rig.order_posts() == Counter(ids)
    theirs = rig.standin_orders()
    assert [theirs[i].fills[0].price for i in ids] == [100, 110, 100]
    assert_books_agree(rig)
    assert rig.actions() == dict.fromkeys(ids, PLACED_AND_FILLED)

    status = trade_status(rig.cli)
    assert (status["state"], status["mode"], status["runner_alive"]) == (
        "running",
        "live",
        True,
    )
    (position,) = status["positions"]
    assert position["amount"] == float(rig.standin_total("BTC"))
    assert status["open_orders"] == []
    assert status["halt_reason"] is None
    assert status["equity"] == pytest.approx(status["cash"] + position["amount"] * LOW)
    buy, sell = theirs[ids[0]], theirs[ids[1]]
    round_trip = (sell.cost - sell.fee) - (buy.cost + buy.fee)
    assert status["realized_pnl"] == pytest.approx(float(round_trip))

    out, _ = rig.stop()
    assert "BTC/USDT buy 9.99 at 100 (live, signal)" in out
    assert "BTC/USDT sell 9.99 at 110 (live, signal)" in out
    assert trade_status(rig.cli)["state"] == "stopped"


@pytest.mark.slow
def test_limit_orders_rest_fill_and_are_cancelled_a_candle_on(rig: LiveRig) -> None:
    rig.start(*LIMIT)
    rig.wait_ready()

    rig.step(LOW)
    (buy,) = rig.orders()
    resting = rig.standin_orders()[buy["client_id"]]
    assert (resting.type, resting.side, resting.status) == ("limit", "buy", "open")
    assert resting.price == Decimal("100")
    assert buy["state"] == "open"
    (shown,) = trade_status(rig.cli)["open_orders"]
    assert (shown["client_order_id"], shown["state"]) == (buy["client_id"], "open")

    rig.fill_resting(buy["client_id"], LOW)
    rig.wait(lambda: rig.orders()[0]["state"] == "filled", "the books to see the fill")
    rig.step(HIGH)
    sell = rig.orders()[1]
    assert rig.standin_orders()[sell["client_id"]].status == "open"
    rig.step(LOW)  # one candle on, the sell has not filled

    after = rig.orders()
    assert [(o["side"], o["state"]) for o in after] == [
        ("buy", "filled"),
        ("sell", "cancelled"),
    ]
    assert rig.standin_orders()[sell["client_id"]].status == "canceled"
    assert len(rig.binance.requests_to(ORDER_PATH, "DELETE")) == 1
    assert rig.order_posts() == Counter([buy["client_id"], sell["client_id"]])
    assert rig.actions() == {
        buy["client_id"]: PLACED_AND_FILLED,
        sell["client_id"]: PLACED_AND_CANCELLED,
    }
    out, _ = rig.stop()
    assert "BTC/USDT sell order cancelled: unfilled after one candle" in out
    assert_books_agree(rig, f"{TYPE_NOT_STORED}\n{FEE_NOT_BOOKED}")


def test_a_read_only_key_cannot_start_a_live_session(
    cli: CliRunner,
    home: Home,
    binance: BinanceStandin,
    standin_authorities: TestAuthorities,
) -> None:
    with live_rig(cli, home, binance, standin_authorities, "read-only"):
        refused = cli(*TRADE_ARGS)

    assert refused.code == 3
    assert f"key {KEY!r} is read-only" in refused.err
    assert f"crypto-trader keys set-permission {KEY} trading" in refused.err
    assert audit_details(home, "PERMISSION_DENIED") == [
        {
            "label": KEY,
            "exchange": "binance",
            "permission": "read-only",
            "operation": "trade",
            "request": "trade --mode live",
        }
    ]
    assert binance.requests == []
    assert sessions(home) == []


@pytest.mark.slow
def test_a_key_downgraded_mid_run_stops_trading_before_its_next_order(
    rig: LiveRig,
) -> None:
    rig.start()
    rig.wait_ready()
    rig.step(LOW)
    downgraded = rig.cli("keys", "set-permission", KEY, "read-only")
    assert downgraded.code == 0, downgraded.err

    rig.market.release(HIGH)  # an exit: a sell the key may no longer place
    _, err = rig.finish()

    assert rig.exit_code == 3, err
    buy, sell = rig.orders()
    assert (sell["side"], sell["state"], sell["exchange_id"]) == (
        "sell",
        "rejected",
        None,
    )
    assert rig.order_posts() == Counter([buy["client_id"]])
    assert sell["client_id"] not in rig.standin_orders()
    (denied,) = audit_details(rig.home, "PERMISSION_DENIED")
    assert (denied["label"], denied["permission"], denied["request"]) == (
        KEY,
        "read-only",
        "create_order",
    )
    (error,) = audit_details(rig.home, "ERROR")
    reason = error["reason"]
    assert reason.startswith(f"key {KEY!r} is read-only: create_order needs")
    assert f"error: trading stopped: {reason}" in err
    log = (rig.home.logs / "crypto-trader.log").read_text()
    assert f"ERROR crypto_trader.trading.runner: trading stopped: {reason}" in log
    status = trade_status(rig.cli)
    assert (status["state"], status["halt_reason"]) == ("halted", reason)
    assert status["runner_alive"] is False
    assert f"halted: {reason}" in rig.cli("trade", "status").out
    assert_books_agree(rig)


@pytest.mark.slow
def test_a_daily_loss_halt_cancels_the_orders_resting_at_the_exchange(
    rig: LiveRig,
) -> None:
    limit = rig.cli("config", "set", "risk.max_daily_loss_pct", "5")
    assert limit.code == 0, limit.err
    rig.start(*LIMIT)
    rig.wait_ready()
    first = rig.step(LOW)
    (buy,) = rig.orders()
    rig.fill_resting(buy["client_id"], LOW)
    rig.wait(lambda: rig.orders()[0]["state"] == "filled", "the books to see the fill")

    rig.step(80.0)  # a 20% drop: the exit's sell rests, then the day's loss halts

    buy, sell = rig.orders()
    assert (sell["side"], sell["state"]) == ("sell", "cancelled")
    assert rig.standin_orders()[sell["client_id"]].status == "canceled"
    assert rig.actions()[sell["client_id"]] == PLACED_AND_CANCELLED
    status = trade_status(rig.cli)
    assert (status["state"], status["runner_alive"]) == ("halted", True)
    day = time.strftime("%Y-%m-%d", time.gmtime(first / 1000))
    assert status["halt_reason"].startswith("risk.max_daily_loss_pct (5%) reached: ")
    assert f"% below 1000.00 at the start of {day} UTC" in status["halt_reason"]
    assert status["open_orders"] == []
    rig.step(130.0)  # up, then down past the 2-3 averages' crossing: an exit
    rig.step(25.0)  # that a running session would act on
    assert len(rig.standin_orders()) == 2

    out, err = rig.stop()
    assert "BTC/USDT sell order cancelled: cancelled by the daily loss halt" in out
    assert f"warning: trading halted: {status['halt_reason']}" in err
    assert trade_status(rig.cli)["state"] == "stopped"
    assert len(rig.binance.requests_to(ORDER_PATH, "POST")) == 2


@pytest.mark.slow
def test_trade_stop_from_another_process_cancels_resting_orders(
    rig: LiveRig,
) -> None:
    rig.start(*LIMIT)
    rig.wait_ready()
    rig.step(LOW)
    (buy,) = rig.orders()
    assert rig.standin_orders()[buy["client_id"]].status == "open"

    out, _ = rig.stop()

    assert "session 1 stopped on request" in out
    assert rig.standin_orders()[buy["client_id"]].status == "canceled"
    (cancelled,) = rig.orders()
    assert cancelled["state"] == "cancelled"
    assert "BTC/USDT buy order cancelled: cancelled: the session was stopped" in out
    assert rig.actions() == {buy["client_id"]: PLACED_AND_CANCELLED}
    status = trade_status(rig.cli)
    assert (status["state"], status["open_orders"]) == ("stopped", [])
    assert status["runner_alive"] is False
    assert rig.standin_total("USDT") == Decimal(5000)  # nothing left reserved


@pytest.mark.slow
def test_a_fee_kept_out_of_the_bought_coins_is_not_sold_twice(rig: LiveRig) -> None:
    # Binance keeps a buy's commission in the coin bought, unless paid otherwise.
    rig.binance.ledger.fee_in_received = True
    rig.start()
    rig.wait_ready()

    rig.step(LOW)
    (buy,) = rig.orders()
    held = rig.standin_total("BTC")
    assert held < Decimal(repr(buy["filled"]))  # the exchange kept its fee in BTC
    assert rig.sleeve()["amount"] == pytest.approx(float(held), rel=1e-12)
    (filled,) = trading_records(rig.home, "filled")
    assert filled["fee_in_base"] == pytest.approx(buy["filled"] * 0.001)
    assert filled["fee"] == pytest.approx(buy["filled"] * 0.001 * LOW)

    rig.step(HIGH)
    sell = rig.orders()[1]
    assert (sell["side"], sell["state"]) == ("sell", "filled"), sell["note"]
    left = rig.standin_total("BTC")
    step = rig.standin_orders()[sell["client_id"]].market.amount_increment
    assert Decimal(0) <= left < step  # no more than the market's step stays behind
    assert rig.sleeve()["amount"] == 0.0
    spent = float(DEPOSIT_USDT - rig.standin_total("USDT"))
    assert rig.sleeve()["cash"] == pytest.approx(CASH - spent, abs=float(left) * HIGH)
    rig.stop()
