"""Shared helpers for trading tests: candles in a home, sessions, fills, audit records.

Paper and live tests both use these; keep their names and results stable. Each
reads the home's database directly (no master key needed) or runs the `cli`
fixture, so that a test asserts what a user would see.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from crypto_trader.backtest.model import EngineConfig
from crypto_trader.backtest.runner import backtest, build_strategy
from crypto_trader.home import Home
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.candles import Candles, candles_from_arrays
from crypto_trader.market_data.samples import SAMPLE_SERIES, sample_series
from crypto_trader.market_data.series import SeriesId, series_id
from crypto_trader.storage.database import Database
from tests.conftest import PASSPHRASE
from tests.support.cli import CliRunner, child_env
from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin
from tests.support.exchange_standins.tls import TestAuthorities

if TYPE_CHECKING:
    from tests.trading.live_support import LiveRig

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z, a UTC midnight

# The bundled series, as the `trade` and `backtest` commands name it.
SAMPLE_OPTIONS = ("--exchange", "coinbase", "--symbol", "BTC/USD", "--timeframe", "1h")
PAPER_REPLAY = ("--mode", "paper", "--replay")
# The engine's exit reason codes (backtest/model.py Trades) as fills name them.
EXIT_REASON_NAMES = {0: "signal", 1: "stop-loss", 2: "take-profit", 3: "trailing-stop"}


# Candles in a home


def import_sample(home: Home, count: int | None = None) -> Candles:
    """Store the bundled coinbase BTC/USD 1h candles (the first `count`) in `home`."""
    candles = sample_series()
    if count is not None:
        candles = candles.take(slice(0, count))
    CandleStore.for_home(home).merge(SAMPLE_SERIES, candles)
    return candles


def store_candles(
    home: Home, candles: Candles, exchange: str, symbol: str, timeframe: str = "1h"
) -> SeriesId:
    """Store `candles` in `home` as the series `exchange symbol timeframe`."""
    series = series_id(exchange, symbol, timeframe)
    CandleStore.for_home(home).merge(series, candles)
    return series


def candles_from_closes(
    closes: Sequence[float],
    start_ms: int = START_MS,
    step_ms: int = HOUR_MS,
    wick: float = 0.001,
) -> Candles:
    """Candles that open at the previous close and reach `wick` past both ends."""
    close = np.array(closes, dtype=np.float64)
    open_ = np.concatenate([close[:1], close[:-1]])
    high = np.maximum(open_, close) * (1.0 + wick)
    low = np.minimum(open_, close) * (1.0 - wick)
    times = start_ms + step_ms * np.arange(len(close), dtype=np.int64)
    return candles_from_arrays(times, open_, high, low, close, np.ones(len(close)))


def random_walk(
    count: int, seed: int, start_ms: int = START_MS, start_price: float = 100.0
) -> Candles:
    """`count` hourly candles of a seeded random walk (1% per candle)."""
    rng = np.random.default_rng(seed)
    closes = start_price * np.exp(np.cumsum(rng.normal(0.0, 0.01, count)))
    return candles_from_closes(closes.tolist(), start_ms, wick=0.004)


def zigzag(count: int, low: float = 100.0, high: float = 110.0) -> list[float]:
    """Closes that alternate low, high: sma_cross fast=2 slow=3 acts on each one."""
    return [low if index % 2 == 0 else high for index in range(count)]


# What a session did, read from the home


def trade_status(cli: CliRunner) -> dict[str, Any]:
    """`trade status --json`, parsed; fails the test if the command fails."""
    outcome = cli("trade", "status", "--json")
    assert outcome.code == 0, outcome.err
    report: dict[str, Any] = json.loads(outcome.out)
    return report


@contextmanager
def database(home: Home) -> Iterator[Database]:
    """The home's database, closed afterwards."""
    db = Database(home.database)
    try:
        yield db
    finally:
        db.close()


def rows(home: Home, query: str, *params: object) -> list[dict[str, Any]]:
    """The rows of a query on the home's database, as dicts by column."""
    with database(home) as db:
        cursor = db.connection.execute(query, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def sessions(home: Home) -> list[dict[str, Any]]:
    """Every trading session, oldest first (none if the database has no table)."""
    if not home.database.exists():
        return []
    return rows(home, "SELECT * FROM trade_sessions ORDER BY id")


def session_fills(home: Home, session: int | None = None) -> list[dict[str, Any]]:
    """The fills of one session (the newest by default), oldest first."""
    chosen = session if session is not None else sessions(home)[-1]["id"]
    return rows(
        home, "SELECT * FROM trade_fills WHERE session_id = ? ORDER BY id", chosen
    )


def session_orders(home: Home, session: int | None = None) -> list[dict[str, Any]]:
    """The orders of one session (the newest by default), in the order stored."""
    chosen = session if session is not None else sessions(home)[-1]["id"]
    return rows(
        home,
        "SELECT * FROM trade_orders WHERE session_id = ? ORDER BY rowid",
        chosen,
    )


def audit_details(home: Home, event_type: str) -> list[dict[str, Any]]:
    """The details of every audit record of `event_type`, oldest first."""
    found = rows(
        home,
        "SELECT details FROM audit_log WHERE event_type = ? ORDER BY seq",
        event_type,
    )
    return [json.loads(row["details"]) for row in found]


def trading_records(
    home: Home, action: str, session: int | None = None
) -> list[dict[str, Any]]:
    """TRADING_OPERATION details with this action (placed, filled, cancelled ...)."""
    return [
        details
        for details in audit_details(home, "TRADING_OPERATION")
        if details.get("action") == action
        and (session is None or details.get("session") == session)
    ]


# Trades as the backtest lists them


@dataclass(frozen=True, slots=True)
class Trade:
    """One round trip: entry and exit candle times, prices, amount, exit reason."""

    entry_ms: int
    entry_price: float
    amount: float
    exit_ms: int | None = None
    exit_price: float | None = None
    exit_reason: str | None = None


def backtest_trades(
    candles: Candles,
    strategy: str,
    params: dict[str, str],
    config: EngineConfig,
    series: SeriesId = SAMPLE_SERIES,
) -> tuple[list[Trade], float]:
    """The backtest's trades on `candles` and its final equity."""
    run = backtest(candles, series, build_strategy(strategy, params), config)
    book = run.result.trades
    times = candles.timestamp_ms
    trades = []
    for row in range(len(book)):
        exit_index = int(book.exit_index[row])
        closed = exit_index >= 0
        trades.append(
            Trade(
                entry_ms=int(times[int(book.entry_index[row])]),
                entry_price=float(book.entry_price[row]),
                amount=float(book.amount[row]),
                exit_ms=int(times[exit_index]) if closed else None,
                exit_price=float(book.exit_price[row]) if closed else None,
                exit_reason=EXIT_REASON_NAMES[int(book.exit_reason[row])]
                if closed
                else None,
            )
        )
    return trades, run.result.final_equity


def paper_trades(fills: Sequence[dict[str, Any]], symbol: str) -> list[Trade]:
    """A session's fills of `symbol` paired into round trips, as `backtest_trades`."""
    trades: list[Trade] = []
    entry: dict[str, Any] | None = None
    for fill in fills:
        if fill["symbol"] != symbol:
            continue
        if fill["side"] == "buy":
            assert entry is None, f"a second buy while long: {fill}"
            entry = fill
            continue
        assert entry is not None, f"a sale while flat: {fill}"
        assert fill["amount"] == entry["amount"], "a sale of another amount"
        trades.append(_trade(entry, fill))
        entry = None
    if entry is not None:
        trades.append(_trade(entry, None))
    return trades


def _trade(entry: dict[str, Any], exit_: dict[str, Any] | None) -> Trade:
    return Trade(
        entry_ms=entry["candle_ms"],
        entry_price=entry["price"],
        amount=entry["amount"],
        exit_ms=None if exit_ is None else exit_["candle_ms"],
        exit_price=None if exit_ is None else exit_["price"],
        exit_reason=None if exit_ is None else exit_["reason"],
    )


# Child processes


def home_env(home: Home, **overrides: str) -> dict[str, str]:
    """A child's environment on `home` with the file key store and test hooks."""
    return child_env(
        CRYPTO_TRADER_HOME=str(home.root),
        CRYPTO_TRADER_KEY_STORE="file",
        CRYPTO_TRADER_KEY_PASSPHRASE=PASSPHRASE,
        **overrides,
    )


def start_child(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.Popen[str]:
    """Start `python -m crypto_trader ARGS` in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "crypto_trader", *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(
    condition: Callable[[], bool], timeout_s: float = 30.0, what: str = "it"
) -> None:
    """Poll `condition` until it holds; fail the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# Live sessions on the Binance stand-in


@pytest.fixture
def live_key() -> BinanceKey | None:
    """The stand-in key `rig` trades with; None for a fresh trading key.

    A test module overrides this fixture to plant a key of its own.
    """
    return None


@pytest.fixture
def rig(
    cli: CliRunner,
    home: Home,
    binance: BinanceStandin,
    standin_authorities: TestAuthorities,
    live_key: BinanceKey | None,
) -> Iterator[LiveRig]:
    """A home set up to trade live on the Binance stand-in (see live_support)."""
    # Imported here: live_support builds on this module's helpers.
    from tests.trading.live_support import live_rig

    with live_rig(cli, home, binance, standin_authorities, key=live_key) as built:
        yield built
