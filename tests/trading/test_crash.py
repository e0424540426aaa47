"""A replay killed at any point resumes to exactly what an uninterrupted run does.

The child runner is SIGKILLed just before a named call (the test start-up hook
CRYPTO_TRADER_TEST_KILL_AT): while it books a fill, stores one, saves a sleeve,
writes or confirms the audit head, or ends the session. The same command then
resumes the session; its fills and books must equal an uninterrupted run's, no
order or fill may appear twice, and the audit log must verify and hold exactly
one 'placed' record per order and one 'filled' record per fill.
"""

from __future__ import annotations

import signal
from collections import Counter
from typing import Any

import pytest

from crypto_trader.home import Home
from tests.support.cli import CliRunner
from tests.trading.conftest import (
    PAPER_REPLAY,
    SAMPLE_OPTIONS,
    home_env,
    import_sample,
    random_walk,
    session_fills,
    session_orders,
    sessions,
    start_child,
    store_candles,
    trade_status,
    trading_records,
)

CANDLES = 10_000
REPLAY = ("trade", "--strategy", "sma_cross", *SAMPLE_OPTIONS, *PAPER_REPLAY)
AUDIT = "crypto_trader.audit.audit_log:AuditLog"
STORE = "crypto_trader.trading.store:TradeStore"
BOOKS_MODULE = "crypto_trader.trading.books:Books"
KILL_POINTS = {
    "before the first fill is stored": f"{STORE}.insert_fill:1",
    "before the 150th fill is stored": f"{STORE}.insert_fill:150",
    "before the 301st fill is booked": f"{BOOKS_MODULE}.fill:301",
    "before a sleeve is saved": f"{STORE}.save_sleeve:90",
    "while audit records are appended": f"{AUDIT}._append:700",
    "before the audit head is written": f"{AUDIT}._write_head:3",
    "before the audit head is confirmed": f"{AUDIT}._confirm_head:4",
    "as the finished session is stored": f"{STORE}.set_state:1",
}
# Two symbols, closes as fills and a trailing stop: several orders per candle time.
TWO_SYMBOLS = (
    "trade",
    "--strategy",
    "bollinger_breakout",
    "--param",
    "window=10",
    "--param",
    "width=1",
    "--param",
    "trailing_stop=0.01",
    "--exchange",
    "binance",
    "--symbol",
    "BTC/USDT",
    "--symbol",
    "ETH/USDT",
    "--timeframe",
    "1h",
    *PAPER_REPLAY,
    "--fill",
    "close",
    "--stake",
    "60%",
)
TWO_SYMBOL_KILLS = {
    "two symbols, before the 100th fill is stored": f"{STORE}.insert_fill:100",
    "two symbols, before the 233rd fill is booked": f"{BOOKS_MODULE}.fill:233",
    "two symbols, while audit records are appended": f"{AUDIT}._append:390",
}
BOOKS = ("equity", "cash", "realized_pnl", "unrealized_pnl", "fees", "trades")


def killed_run(home: Home, kill_at: str, command: tuple[str, ...] = REPLAY) -> None:
    child = start_child(
        *command, env=home_env(home, CRYPTO_TRADER_TEST_KILL_AT=kill_at)
    )
    _, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, err


def fill_rows(home: Home, session: int) -> list[tuple[Any, ...]]:
    return [
        (
            f["symbol"],
            f["side"],
            f["candle_ms"],
            f["amount"],
            f["price"],
            f["fee"],
            f["reason"],
        )
        for f in session_fills(home, session)
    ]


def assert_consistent(cli: CliRunner, home: Home, session: int) -> None:
    """No order or fill twice; one audit record per order placed and per fill."""
    orders = session_orders(home, session)
    fills = session_fills(home, session)
    placed = trading_records(home, "placed", session)
    filled = trading_records(home, "filled", session)
    placed_ids = [r["client_order_id"] for r in placed]
    assert len(set(placed_ids)) == len(placed_ids), "an order was placed twice"
    assert placed_ids == [o["client_id"] for o in orders]
    filled_ids = [r["client_order_id"] for r in filled]
    assert len(set(filled_ids)) == len(filled_ids), "an order was filled twice"
    assert filled_ids == [f["client_id"] for f in fills]
    assert len(filled) == len(fills)
    twice = Counter((f["symbol"], f["candle_ms"], f["side"]) for f in fills)
    assert max(twice.values()) == 1, "a fill was booked twice"
    assert [o for o in orders if o["state"] in ("new", "open")] == []
    verified = cli("audit", "verify")
    assert verified.code == 0, verified.err
    assert "chain intact" in verified.out


def store_two_symbols(home: Home) -> None:
    store_candles(
        home, random_walk(3000, seed=21, start_price=30_000.0), "binance", "BTC/USDT"
    )
    store_candles(
        home, random_walk(3000, seed=22, start_price=2_000.0), "binance", "ETH/USDT"
    )


CASES = [
    *(pytest.param(REPLAY, kill, id=name) for name, kill in KILL_POINTS.items()),
    # A replay's first write is committed alone: the order, not yet its fill.
    pytest.param(
        (*REPLAY, "--fill", "close"),
        f"{STORE}.insert_fill:1",
        id="close fills, before the first fill is stored",
    ),
    *(
        pytest.param(TWO_SYMBOLS, kill, id=name)
        for name, kill in TWO_SYMBOL_KILLS.items()
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("command", "kill_at"), CASES)
def test_a_killed_replay_resumes_to_the_uninterrupted_result(
    cli: CliRunner, home: Home, command: tuple[str, ...], kill_at: str
) -> None:
    if command[: len(REPLAY)] == REPLAY:
        import_sample(home, count=CANDLES)
    else:
        store_two_symbols(home)

    killed_run(home, kill_at, command)

    assert [s["state"] for s in sessions(home)] == ["running"]
    resumed = cli(*command)
    assert resumed.code == 0, resumed.err
    assert "resuming session 1 (" in resumed.out
    assert "session 1 finished" in resumed.out
    after_crash = trade_status(cli)
    assert_consistent(cli, home, 1)

    uninterrupted = cli(*command)
    assert uninterrupted.code == 0, uninterrupted.err
    assert "session 2 finished" in uninterrupted.out
    reference = trade_status(cli)
    assert len(fill_rows(home, 2)) >= 300
    assert fill_rows(home, 1) == fill_rows(home, 2), (
        "the resumed session's fills differ from an uninterrupted run's"
    )
    for name in BOOKS:
        assert after_crash[name] == reference[name], name
    assert after_crash["positions"] == reference["positions"]


@pytest.mark.slow
def test_a_replay_killed_again_while_resuming_still_ends_right(
    cli: CliRunner, home: Home
) -> None:
    import_sample(home, count=CANDLES)
    killed_run(home, f"{STORE}.insert_fill:120")
    killed_run(home, f"{BOOKS_MODULE}.fill:40")

    resumed = cli(*REPLAY)

    assert resumed.code == 0, resumed.err
    assert "resuming session 1" in resumed.out
    assert_consistent(cli, home, 1)
    assert cli(*REPLAY).code == 0
    assert fill_rows(home, 1) == fill_rows(home, 2)
