"""Controlling a running session from other processes: one runner, stop, signals.

A runner in a child process replays a zigzag slowly (`--speed`), placing an order
at every candle, so that an order is always waiting when it is told to stop. A
second start is refused naming the running session and its pid; `trade stop`,
Ctrl-C (SIGINT) and SIGTERM end it cleanly with its open orders cancelled; a
killed session blocks other commands until it is resumed or ended.
"""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from crypto_trader.home import Home
from tests.support.cli import CliRunner
from tests.trading.conftest import (
    PAPER_REPLAY,
    candles_from_closes,
    home_env,
    session_fills,
    session_orders,
    sessions,
    start_child,
    store_candles,
    trade_status,
    wait_for,
    zigzag,
)

CANDLES = 400
# 36,000 x real time: a 1h candle every 0.1 s, 40 s for the whole series.
SLOW = ("--speed", "36000")
ZIGZAG_ARGS = (
    "trade",
    "--strategy",
    "sma_cross",
    "--param",
    "fast=2",
    "--param",
    "slow=3",
    "--exchange",
    "binance",
    "--symbol",
    "BTC/USDT",
    "--timeframe",
    "1h",
    *PAPER_REPLAY,
)
# Another command: the same but for one parameter.
OTHER_ARGS = tuple("slow=5" if arg == "slow=3" else arg for arg in ZIGZAG_ARGS)
DESCRIPTION = "sma_cross paper replay on binance BTC/USDT 1h"
# The third save of the last prices comes after about two seconds of a slow
# replay, just after an order was placed and committed.
KILL_AFTER_AN_ORDER = "crypto_trader.trading.store:TradeStore.save_marks:3"


@pytest.fixture
def zigzag_home(home: Home) -> Home:
    store_candles(home, candles_from_closes(zigzag(CANDLES)), "binance", "BTC/USDT")
    return home


def start_slow_runner(home: Home, **env: str) -> subprocess.Popen[str]:
    """A runner in a child, once it trades (its fills reach the database)."""
    child = start_child(*ZIGZAG_ARGS, *SLOW, env=home_env(home, **env))
    wait_for(
        lambda: (
            child.poll() is not None
            or (bool(sessions(home)) and len(session_fills(home)) >= 2)
        ),
        what="the runner's first fills",
    )
    assert child.poll() is None, child.communicate()
    return child


def assert_stopped_with_orders_cancelled(home: Home, note: str) -> None:
    (session,) = sessions(home)
    assert session["state"] == "stopped"
    orders = session_orders(home)
    assert all(o["state"] in ("filled", "cancelled") for o in orders)
    last = orders[-1]
    assert (last["state"], last["note"]) == ("cancelled", note)
    # It stopped part of the way: the zigzag orders at every candle from the 5th.
    assert len(orders) < CANDLES - 10


@pytest.mark.slow
def test_a_second_start_is_refused_and_trade_stop_ends_the_runner(
    cli: CliRunner, zigzag_home: Home
) -> None:
    home = zigzag_home
    child = start_slow_runner(home)
    try:
        busy = (
            f"error: session 1 ({DESCRIPTION}, pid {child.pid}) is already running "
            "in this home; stop it with `crypto-trader trade stop` first\n"
        )
        for args in (ZIGZAG_ARGS, OTHER_ARGS):
            second = cli(*args)
            assert (second.code, second.out, second.err) == (1, "", busy)
        assert len(sessions(home)) == 1
        running = trade_status(cli)
        assert (running["state"], running["runner_alive"]) == ("running", True)

        stopped = cli("trade", "stop")

        assert stopped.code == 0, stopped.err
        assert stopped.out == "session 1 stopped; its open orders were cancelled\n"
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err
    assert "session 1 stopped on request" in out
    assert "session 1 stopped: equity " in out
    assert_stopped_with_orders_cancelled(
        home, "cancelled: the session was stopped on request"
    )
    status = trade_status(cli)
    assert (status["state"], status["open_orders"]) == ("stopped", [])
    assert status["runner_alive"] is False

    # After a stop, the same command starts a new session.
    again = cli(*ZIGZAG_ARGS)
    assert again.code == 0, again.err
    assert "resuming" not in again.out
    assert [s["state"] for s in sessions(home)] == ["stopped", "finished"]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_a_signal_stops_the_runner_cleanly(
    cli: CliRunner, zigzag_home: Home, signum: signal.Signals
) -> None:
    home = zigzag_home
    child = start_slow_runner(home)
    child.send_signal(signum)
    out, err = child.communicate(timeout=30)

    assert child.returncode == 0, err
    assert "session 1 interrupted" in out
    assert "session 1 stopped: equity " in out
    assert "Traceback" not in err
    assert_stopped_with_orders_cancelled(home, "cancelled: the session was interrupted")
    assert trade_status(cli)["open_orders"] == []
    verified = cli("audit", "verify")
    assert verified.code == 0, verified.err


@pytest.mark.slow
def test_a_killed_session_blocks_other_commands_until_it_is_ended(
    cli: CliRunner, zigzag_home: Home
) -> None:
    home = zigzag_home
    child = start_child(
        *ZIGZAG_ARGS,
        *SLOW,
        env=home_env(home, CRYPTO_TRADER_TEST_KILL_AT=KILL_AFTER_AN_ORDER),
    )
    _, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, err
    status = trade_status(cli)
    assert (status["state"], status["runner_alive"]) == ("running", False)
    (waiting,) = status["open_orders"]
    assert "(no runner is running)" in cli("trade", "status").out

    other = cli(*OTHER_ARGS)

    assert other.code == 2
    assert other.err == (
        f"error: session 1 ({DESCRIPTION}) did not end; start it again with the "
        "same options to resume it, or end it with `crypto-trader trade stop`\n"
    )
    assert len(sessions(home)) == 1

    ended = cli("trade", "stop")

    assert ended.code == 0, ended.err
    assert ended.out == "session 1 stopped (no runner was running)\n"
    orders = {o["client_id"]: o for o in session_orders(home)}
    cancelled = orders[waiting["client_order_id"]]
    assert (cancelled["state"], cancelled["note"]) == (
        "cancelled",
        "cancelled: the session was stopped",
    )
    assert trade_status(cli)["state"] == "stopped"
    fresh = cli(*OTHER_ARGS)
    assert fresh.code == 0, fresh.err
    assert [s["state"] for s in sessions(home)] == ["stopped", "finished"]


@pytest.mark.slow
def test_trade_stop_does_not_wait_for_a_slow_replays_next_candle(
    cli: CliRunner, zigzag_home: Home
) -> None:
    home = zigzag_home
    # 720 x real time: the next 1h candle comes 5 s after the first.
    child = start_child(*ZIGZAG_ARGS, "--speed", "720", env=home_env(home))
    try:
        wait_for(
            lambda: (
                child.poll() is not None
                or (
                    bool(sessions(home))
                    and trade_status(cli)["last_candle"] is not None
                )
            ),
            what="the first candle",
        )
        asked = time.monotonic()

        stopped = cli("trade", "stop")

        took_s = time.monotonic() - asked
        assert stopped.out == "session 1 stopped; its open orders were cancelled\n"
        assert took_s < 2.5, (
            f"product bug: `trade stop` took {took_s:.1f} s: the replay's paced "
            "sleep before the next candle does not look at the stop request"
        )
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=30)


def test_stop_and_resume_without_a_session_say_so(cli: CliRunner) -> None:
    stop = cli("trade", "stop")
    assert (stop.code, stop.out) == (
        0,
        "no trading session is running; nothing to stop\n",
    )
    resume = cli("trade", "resume")
    assert resume.code == 1
    assert resume.err == "error: no trading session is running; nothing to resume\n"
