"""The paper runner on a replay: what `trade status` reports, several symbols, audit.

A replay ends by itself; `trade status` then reports the finished session's books.
Several symbols split the cash evenly, each trading its share as a backtest of that
symbol alone would. Every order placed and every fill writes TRADING_OPERATION, and
the audit chain verifies afterwards.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from crypto_trader.backtest.model import EngineConfig, Fill
from crypto_trader.home import Home
from crypto_trader.market_data.samples import sample_series
from tests.support.cli import CliRunner
from tests.trading.conftest import (
    PAPER_REPLAY,
    SAMPLE_OPTIONS,
    audit_details,
    backtest_trades,
    import_sample,
    paper_trades,
    random_walk,
    session_fills,
    session_orders,
    store_candles,
    trade_status,
    trading_records,
)

REPLAY_ENDED = "the replay ended before it could fill"


def replay_bollinger(cli: CliRunner) -> None:
    # bollinger_breakout with its defaults ends the bundled series long.
    outcome = cli(
        "trade", "--strategy", "bollinger_breakout", *SAMPLE_OPTIONS, *PAPER_REPLAY
    )
    assert outcome.code == 0, outcome.err


def round_trip_pnl(fills: list[dict[str, Any]]) -> float:
    """Realised PnL of the closed round trips in `fills`: proceeds less cost."""
    total, entry = 0.0, None
    for fill in fills:
        if fill["side"] == "buy":
            entry = fill
            continue
        assert entry is not None
        cost = entry["amount"] * entry["price"] + entry["fee"]
        total += fill["amount"] * fill["price"] - fill["fee"] - cost
        entry = None
    return total


def test_status_after_a_replay_reports_the_finished_books(
    cli: CliRunner, home: Home
) -> None:
    candles = import_sample(home)
    last_close = float(candles.close[-1])

    replay_bollinger(cli)

    status = trade_status(cli)
    fills = session_fills(home)
    entry = fills[-1]
    assert entry["side"] == "buy", "the replay should end holding a position"
    assert status["state"] == "finished"
    assert status["runner_alive"] is False
    assert status["halt_reason"] is None
    assert status["last_refusal"] is None
    assert status["mode"] == "paper"
    assert status["replay"] is True
    assert status["symbols"] == ["BTC/USD"]
    assert status["last_candle"] == int(candles.timestamp_ms[-1])
    (position,) = status["positions"]
    assert position["symbol"] == "BTC/USD"
    assert position["amount"] == entry["amount"]
    assert position["entry_price"] == entry["price"]
    assert position["last_price"] == last_close
    cost = entry["amount"] * entry["price"] + entry["fee"]
    unrealized = entry["amount"] * last_close - cost
    assert position["unrealized_pnl"] == pytest.approx(unrealized, rel=1e-12)
    assert status["unrealized_pnl"] == pytest.approx(unrealized, rel=1e-12)
    assert status["equity"] == pytest.approx(
        status["cash"] + entry["amount"] * last_close, rel=1e-12
    )
    assert status["balances"] == {"USD": status["cash"], "BTC": entry["amount"]}
    assert status["realized_pnl"] == pytest.approx(round_trip_pnl(fills), rel=1e-9)
    assert status["fees"] == pytest.approx(sum(f["fee"] for f in fills), rel=1e-9)
    assert status["trades"] == sum(f["side"] == "buy" for f in fills)
    assert status["open_orders"] == []


def test_a_decision_on_the_last_candle_is_cancelled_when_the_replay_ends(
    cli: CliRunner, home: Home
) -> None:
    sample = sample_series()
    expected, _ = backtest_trades(sample, "sma_cross", {}, EngineConfig())
    # Keep the series up to the candle whose close decides the sixth entry.
    entry_index = int(np.searchsorted(sample.timestamp_ms, expected[5].entry_ms))
    cut = import_sample(home, count=entry_index)

    outcome = cli("trade", "--strategy", "sma_cross", *SAMPLE_OPTIONS, *PAPER_REPLAY)

    assert outcome.code == 0, outcome.err
    last = session_orders(home)[-1]
    assert (last["side"], last["state"]) == ("buy", "cancelled")
    assert last["note"] == REPLAY_ENDED
    assert last["candle_ms"] == int(cut.timestamp_ms[-1])
    assert len(session_fills(home)) == 10  # five round trips
    assert trade_status(cli)["open_orders"] == []
    (cancelled,) = trading_records(home, "cancelled")
    assert cancelled["client_order_id"] == last["client_id"]


def test_status_in_words_names_state_books_and_position(
    cli: CliRunner, home: Home
) -> None:
    import_sample(home)
    replay_bollinger(cli)

    outcome = cli("trade", "status")

    assert outcome.code == 0, outcome.err
    lines = outcome.out.splitlines()
    assert lines[0].startswith("session 1: finished (no runner is running), ")
    assert "bollinger_breakout paper replay on coinbase BTC/USD 1h" in lines[0]
    assert any(line.startswith("equity ") and "cash " in line for line in lines)
    assert any(line.startswith("position BTC/USD: ") for line in lines)
    assert "open orders: none" in lines


def test_status_before_any_session_says_how_to_start_one(cli: CliRunner) -> None:
    outcome = cli("trade", "status", "--json")
    assert outcome.code == 1
    assert outcome.out == ""
    assert "no trading session yet; start one with `crypto-trader trade" in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1


def test_several_symbols_share_the_cash_and_each_trades_as_its_backtest(
    cli: CliRunner, home: Home
) -> None:
    btc = random_walk(1500, seed=11, start_price=40_000.0)
    # ETH starts 37 candles later: each sleeve replays its own series.
    eth = random_walk(1463, seed=12, start_ms=int(btc.timestamp_ms[37]))
    for symbol, candles in (("BTC/USDT", btc), ("ETH/USDT", eth)):
        store_candles(home, candles, "binance", symbol)
    params = {"fast": "4", "slow": "12"}

    outcome = cli(
        "trade",
        "--strategy",
        "sma_cross",
        "--param",
        "fast=4",
        "--param",
        "slow=12",
        "--exchange",
        "binance",
        "--symbol",
        "BTC/USDT",
        "--symbol",
        "ETH/USDT",
        "--timeframe",
        "1h",
        *PAPER_REPLAY,
        "--cash",
        "10000",
        "--fill",
        "close",
    )

    assert outcome.code == 0, outcome.err
    fills = session_fills(home)
    share = EngineConfig(cash=5000.0, fill=Fill.CLOSE)
    equity = 0.0
    for symbol, candles in (("BTC/USDT", btc), ("ETH/USDT", eth)):
        expected, final = backtest_trades(candles, "sma_cross", params, share)
        assert len(expected) >= 20
        assert paper_trades(fills, symbol) == expected
        equity += final
    status = trade_status(cli)
    assert status["symbols"] == ["BTC/USDT", "ETH/USDT"]
    assert status["equity"] == pytest.approx(equity, rel=1e-9, abs=0)
    # The two series interleave: fills of both symbols alternate in time.
    times = [f["candle_ms"] for f in fills]
    assert times == sorted(times)
    assert {f["symbol"] for f in fills[:40]} == {"BTC/USDT", "ETH/USDT"}


def test_every_order_and_fill_is_audited_and_the_chain_verifies(
    cli: CliRunner, home: Home
) -> None:
    import_sample(home, count=5000)
    outcome = cli(
        "trade",
        "--strategy",
        "rsi_reversion",
        *SAMPLE_OPTIONS,
        *PAPER_REPLAY,
        "--param",
        "stop_loss=0.02",
    )
    assert outcome.code == 0, outcome.err

    orders = session_orders(home)
    fills = session_fills(home)
    placed = trading_records(home, "placed", session=1)
    filled = trading_records(home, "filled", session=1)
    assert len(fills) >= 40
    assert {f["reason"] for f in fills} >= {"signal", "stop-loss"}
    assert [r["client_order_id"] for r in placed] == [o["client_id"] for o in orders]
    assert [r["client_order_id"] for r in filled] == [f["client_id"] for f in fills]
    for record, fill in zip(filled, fills, strict=True):
        assert record["mode"] == "paper"
        assert record["exchange"] == "coinbase"
        assert record["side"] == fill["side"]
        assert record["fill_amount"] == fill["amount"]
        assert record["fill_price"] == fill["price"]
        assert record["fee"] == fill["fee"]
        assert record["state"] == "filled"
    per_order = Counter(r["client_order_id"] for r in placed + filled)
    assert set(per_order.values()) <= {1, 2}
    assert len(audit_details(home, "TRADING_OPERATION")) == len(placed) + len(
        filled
    ) + len(trading_records(home, "cancelled"))

    verified = cli("audit", "verify")
    assert verified.code == 0, verified.err
    assert "chain intact" in verified.out
