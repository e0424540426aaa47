"""Live sessions against the Binance stand-in: a trading key, candles on cue, a child.

The runner is a real `crypto-trader trade --mode live` child process that reaches
the stand-in through real ccxt over TLS. Its feed polls the stand-in's klines every
POLL_SECONDS. The stand-in starts with a short history (warm-up only) and serves
each further candle when the test releases it. Every candle lies in the past, so
it is closed the moment it appears and the runner acts on it at once: the test
decides when each signal happens. A released candle's close becomes the
stand-in's last price, at which it fills market orders; a resting limit order
fills only when the test fills it (`fill_resting`).

The closes zigzag between LOW and HIGH, and sma_cross with windows 2 and 3 acts
on every one of them: a LOW close is an entry, a HIGH close an exit.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from crypto_trader.home import Home
from tests.exchanges.conftest import add_key_cli
from tests.support.cli import CliRunner
from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin
from tests.support.exchange_standins.book import OrderRecord
from tests.support.exchange_standins.redirect import environment_for
from tests.support.exchange_standins.tls import TestAuthorities
from tests.trading.conftest import (
    DAY_MS,
    HOUR_MS,
    audit_details,
    home_env,
    rows,
    session_orders,
    sessions,
    start_child,
)

SYMBOL = "BTC/USDT"
KEY = "live"
ORDER_PATH = "/api/v3/order"
KLINES_PATH = "/api/v3/klines"
LOW, HIGH = 100.0, 110.0
CASH = 1000.0  # the session's cash; the account holds more
DEPOSIT_USDT = Decimal(5000)
POLL_SECONDS = "0.2"
POLL_LIMIT = "100"  # the feed's page when it polls (its history pages are larger)
HISTORY = 10  # warm-up candles, ending on a HIGH: the next LOW is an entry
WAIT_S = 15.0
TOLERANCE = 1e-6  # books in floats against the stand-in's decimals

STRATEGY = ("--strategy", "sma_cross", "--param", "fast=2", "--param", "slow=3")
MARKET = ("--exchange", "binance", "--symbol", SYMBOL, "--timeframe", "1h")
LIVE = ("--mode", "live", "--key", KEY, "--live", "--cash", str(int(CASH)))
TRADE_ARGS = ("trade", *STRATEGY, *MARKET, *LIVE)
LIMIT = ("--order-type", "limit")

# Product bugs these tests expose, named in their failure messages.
FEE_NOT_BOOKED = (
    "product bug: an order's fee is booked as 0 when its fill is learnt from "
    "fetch_order (LiveBroker._book_fill via _follow or OrderDesk.find_by_client_id): "
    "Binance's GET /api/v3/order carries no commission"
)
TYPE_NOT_STORED = (
    "product bug: a live limit order is stored, and shown by `trade status`, as a "
    "market order: TradeStore.update_order does not write the type LiveBroker.send "
    "gives it"
)
# The stand-in's order states, as the books name them.
BOOKED_STATE = {"open": "open", "filled": "filled", "canceled": "cancelled"}

# Runs the command line with a short exchange timeout, so that a stalled answer
# times out within a test (the product waits 15 s). Only the door's settings
# change; the rest is the real program, with the test start-up hooks.
QUICK_TIMEOUT_MS = 1500
_QUICK_TIMEOUT_LAUNCHER = f"""
import dataclasses
from crypto_trader.exchanges import sessions
_settings = sessions.door_settings
def _quick(installation, sandbox):
    return dataclasses.replace(
        _settings(installation, sandbox), timeout_ms={QUICK_TIMEOUT_MS}
    )
sessions.door_settings = _quick
from crypto_trader.cli.main import run
run()
"""


def first_release_ms(now_ms: int) -> int:
    """The open time of the first released candle: the start of yesterday (UTC).

    Every candle of a test then lies in the past and in one UTC day, so that a
    day's loss counts from the first traded candle.
    """
    return (now_ms // DAY_MS - 1) * DAY_MS


@dataclass
class StandinMarket:
    """BTC/USDT 1h candles on the stand-in: a warm-up history, then one on cue."""

    binance: BinanceStandin
    next_ms: int
    last_close: float = HIGH

    @classmethod
    def with_history(cls, binance: BinanceStandin, now_ms: int) -> StandinMarket:
        """The market with HISTORY zigzag candles before `first_release_ms`."""
        # A spec of this test's own: `release` changes its last price in place,
        # and the listed one is shared by every test (the stand-in's defaults).
        binance.add_market(replace(binance.market(SYMBOL)))
        market = cls(binance, first_release_ms(now_ms) - HISTORY * HOUR_MS)
        for index in range(HISTORY):
            market.add(HIGH if index % 2 else LOW)
        return market

    def release(self, close: float) -> int:
        """Serve the next candle, closing at `close` (the new last price); its time."""
        with self.binance.lock:
            # In place: the stand-in finds an order only while the order's market
            # spec equals the listed one, and every order holds this very object
            # (made for this test in `with_history`).
            spec = self.binance.market(SYMBOL)
            object.__setattr__(spec, "last_price", Decimal(repr(close)))
        return self.add(close)

    def add(self, close: float) -> int:
        """Serve the next candle, which opens at the last close."""
        time_ms, open_ = self.next_ms, self.last_close
        high, low = max(open_, close) * 1.001, min(open_, close) * 0.999
        candle = [time_ms, open_, high, low, close, 1.0]
        self.binance.add_candles(SYMBOL, "1h", [candle])
        self.next_ms += HOUR_MS
        self.last_close = close
        return time_ms


@dataclass
class LiveRig:
    """A home with a trading key on the stand-in, and the runner it starts."""

    cli: CliRunner
    home: Home
    binance: BinanceStandin
    market: StandinMarket
    child: subprocess.Popen[str] | None = None
    outputs: tuple[str, str] = ("", "")
    _polls_before: int = 0

    # The runner

    def start(
        self, *extra: str, quick_timeout: bool = False, kill_at: str | None = None
    ) -> subprocess.Popen[str]:
        """Start the live runner in a child process (stdin is not a terminal).

        `kill_at` names the function before whose call it SIGKILLs itself.
        """
        environment = home_env(self.home, **environment_for(self.binance.routes))
        if kill_at is not None:
            environment["CRYPTO_TRADER_TEST_KILL_AT"] = kill_at
        args = (*TRADE_ARGS, *extra)
        self._polls_before = self.polls()
        self.outputs = ("", "")
        if not quick_timeout:
            self.child = start_child(*args, env=environment)
            return self.child
        self.child = subprocess.Popen(
            [sys.executable, "-c", _QUICK_TIMEOUT_LAUNCHER, *args],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return self.child

    def wait_ready(self) -> None:
        """Wait until the runner, history read and orders reconciled, polls."""
        self.wait(
            lambda: self.polls() >= self._polls_before + 2,
            "the runner to poll for new candles",
        )

    def step(self, close: float) -> int:
        """Release a candle and wait until the runner has processed it."""
        time_ms = self.market.release(close)
        self.wait(
            lambda: (self.last_candle_ms() or 0) >= time_ms,
            f"the runner to process the candle at {time_ms}",
        )
        return time_ms

    def wait(
        self, condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S
    ) -> None:
        """Poll `condition`; fail with the child's output if it ended first."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            child = self.child
            if child is not None and child.poll() is not None:
                out, err = self.finish()
                raise AssertionError(
                    f"the runner exited ({child.returncode}) before {what}:\n"
                    f"{out}\n{err}"
                )
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    def finish(self, timeout_s: float = WAIT_S) -> tuple[str, str]:
        """Wait for the runner to exit; its stdout and stderr."""
        child = self.child
        if child is None or child.returncode is not None:
            return self.outputs
        try:
            self.outputs = child.communicate(timeout=timeout_s)
        finally:
            self.kill()
        return self.outputs

    def stop(self) -> tuple[str, str]:
        """`trade stop` from this process; the runner's output once it ended."""
        stopped = self.cli("trade", "stop")
        assert stopped.code == 0, stopped.err
        assert stopped.out == "session 1 stopped; its open orders were cancelled\n"
        out, err = self.finish()
        assert self.child is not None
        assert self.child.returncode == 0, err
        return out, err

    def kill(self) -> None:
        """End a runner still going (the test failed), by its own pid."""
        child = self.child
        if child is not None and child.poll() is None:
            child.kill()
            self.outputs = child.communicate()

    @property
    def exit_code(self) -> int | None:
        """The runner's exit status; None while it runs."""
        assert self.child is not None, "no runner was started"
        return self.child.poll()

    def polls(self) -> int:
        """The feed's polls for new candles the stand-in has seen."""
        return sum(
            request.params.get("limit") == POLL_LIMIT
            for request in self.binance.requests_to(KLINES_PATH, "GET")
        )

    # What the books say

    def last_candle_ms(self) -> int | None:
        """The newest candle the session's sleeve has seen."""
        if not sessions(self.home):
            return None
        found = rows(self.home, "SELECT last_time_ms FROM trade_sleeves")
        return max((r["last_time_ms"] or 0 for r in found), default=None)

    def sleeve(self) -> dict[str, Any]:
        """The session's BTC/USDT sleeve, as stored."""
        (only,) = rows(self.home, "SELECT * FROM trade_sleeves")
        return only

    def orders(self) -> list[dict[str, Any]]:
        """The session's orders, as stored, oldest first."""
        return session_orders(self.home)

    def actions(self) -> dict[str, list[str]]:
        """The TRADING_OPERATION actions recorded for each client order id (a
        session's halts and resumptions name no order and are left out)."""
        found: dict[str, list[str]] = {}
        for details in audit_details(self.home, "TRADING_OPERATION"):
            if "client_order_id" in details:
                order = details["client_order_id"]
                found.setdefault(order, []).append(details["action"])
        return found

    # What the stand-in says

    def order_posts(self) -> Counter[str]:
        """How many times each client order id was POSTed to the stand-in."""
        return Counter(
            request.params.get("newClientOrderId", "")
            for request in self.binance.requests_to(ORDER_PATH, "POST")
        )

    def standin_orders(self) -> dict[str, OrderRecord]:
        """The stand-in's orders by client order id."""
        with self.binance.lock:
            return dict(self.binance.ledger.by_client_id)

    def standin_total(self, asset: str) -> Decimal:
        """The stand-in account's free plus locked balance of `asset`."""
        ledger = self.binance.ledger
        with self.binance.lock:
            free = ledger.free.get(asset, Decimal(0))
            return free + ledger.locked.get(asset, Decimal(0))

    def fill_resting(self, client_id: str, price: float) -> None:
        """Fill a resting limit order at the stand-in, as a market move would."""
        with self.binance.lock:
            order = self.binance.ledger.by_client_id[client_id]
            now_ms = self.binance.now_ms()
            self.binance.ledger.fill(order, Decimal(repr(price)), now_ms)

    # The two side by side

    def differences(self) -> list[str]:
        """Where the books and the stand-in disagree on orders, position and cash."""
        found = []
        books = self.orders()
        theirs = self.standin_orders()
        for order in books:
            found += _order_differences(order, theirs.get(order["client_id"]))
        strangers = set(theirs) - {o["client_id"] for o in books}
        found += [f"the stand-in has order {c}, the books do not" for c in strangers]
        sleeve = self.sleeve()
        spent = DEPOSIT_USDT - self.standin_total("USDT")
        found += _differ("position (BTC)", sleeve["amount"], self.standin_total("BTC"))
        found += _differ("cash (USDT)", sleeve["cash"], Decimal(repr(CASH)) - spent)
        return found


def assert_books_agree(rig: LiveRig, suspect: str = "") -> None:
    """Fail listing every disagreement of the books with the stand-in.

    `suspect` names the product bug known to cause one, for the failure message.
    """
    found = rig.differences()
    lines = "\n".join(f"  {line}" for line in found)
    assert not found, f"the books disagree with the stand-in:\n{lines}\n{suspect}"


def _order_differences(order: dict[str, Any], theirs: OrderRecord | None) -> list[str]:
    name = f"{order['side']} {order['client_id']}"
    if theirs is None:
        if order["state"] == "rejected" and order["exchange_id"] is None:
            return []  # refused before, or never, reaching the exchange
        return [f"{name} ({order['state']}) is not at the stand-in"]
    found = []
    if order["exchange_id"] != theirs.order_id:
        found.append(f"{name}: order id {order['exchange_id']} != {theirs.order_id}")
    if order["state"] != BOOKED_STATE[theirs.status]:
        found.append(f"{name}: state {order['state']} != {theirs.status}")
    if order["type"] != theirs.type:
        found.append(f"{name}: type {order['type']} != {theirs.type}")
    found += _differ(f"{name}: filled", order["filled"], theirs.filled)
    found += _differ(f"{name}: cost", order["cost"], theirs.cost)
    found += _differ(f"{name}: fee", order["fee"], theirs.fee)
    return found


def _differ(what: str, ours: float, theirs: Decimal) -> list[str]:
    if math.isclose(ours, float(theirs), rel_tol=TOLERANCE, abs_tol=TOLERANCE):
        return []
    return [f"{what}: books {ours!r}, stand-in {theirs}"]


@contextmanager
def live_rig(
    cli: CliRunner,
    home: Home,
    binance: BinanceStandin,
    authorities: TestAuthorities,
    permission: str = "trading",
    key: BinanceKey | None = None,
) -> Iterator[LiveRig]:
    """A home set up to trade live on the stand-in; a runner left going is killed.

    `key` is the stand-in key stored under KEY (a fresh one with `permission`'s
    rights by default).
    """
    for name, value in (
        ("exchange.extra_ca_file", str(authorities.ca_cert_path)),
        ("trade.poll_seconds", POLL_SECONDS),
    ):
        done = cli("config", "set", name, value)
        assert done.code == 0, done.err
    if key is None:
        key = BinanceKey.generate(can_trade=permission == "trading")
    added = add_key_cli(cli, KEY, binance.add_key(key), permission, "--no-check")
    assert added.code == 0, added.err
    binance.deposit("USDT", str(DEPOSIT_USDT))
    market = StandinMarket.with_history(binance, binance.now_ms())
    rig = LiveRig(cli, home, binance, market)
    try:
        yield rig
    finally:
        rig.kill()
