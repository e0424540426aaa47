"""Past backtests in the database: migration 3, newest first, JSON kept exact."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto_trader.backtest.runs import BacktestRuns, RunRecord
from crypto_trader.storage.database import Database
from crypto_trader.storage.migrations import MIGRATIONS
from tests.conftest import FixedClock


def record(strategy: str = "sma_cross", **changes: object) -> RunRecord:
    fields: dict[str, object] = {
        "strategy": strategy,
        "params": {"fast": 10, "slow": 30},
        "exchange": "coinbase",
        "symbol": "BTC/USD",
        "timeframe": "1h",
        "start": "2019-01-01T00:00:00Z",
        "end": "2019-02-01T00:00:00Z",
        "config": {"cash": 10000.0, "fee_rate": 0.001, "stake": "all"},
        "metrics": {"trades": 4, "sharpe": None, "total_return_pct": -1.5},
        "report": None,
    }
    fields.update(changes)
    return RunRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    opened = Database(tmp_path / "crypto_trader.db")
    yield opened
    opened.close()


def test_a_new_database_has_the_runs_table(db: Database) -> None:
    version = db.connection.execute("PRAGMA user_version").fetchone()[0]
    assert version == len(MIGRATIONS) >= 3
    columns = [
        row[1] for row in db.connection.execute("PRAGMA table_info(backtest_runs)")
    ]
    assert columns == [
        "id",
        "created_at",
        "strategy",
        "params",
        "exchange",
        "symbol",
        "timeframe",
        "start",
        "end",
        "config",
        "metrics",
        "report",
    ]


def test_a_schema_2_database_gains_the_table_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        conn.executescript(script)
    conn.execute("INSERT INTO settings (name, value) VALUES ('logging.level', 'DEBUG')")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()

    db = Database(path)
    try:
        assert db.connection.execute("SELECT value FROM settings").fetchall() == [
            ("DEBUG",)
        ]
        stored = BacktestRuns(db, FixedClock()).add(record())
        assert stored.id == 1
    finally:
        db.close()


def test_runs_come_back_newest_first_with_their_json_intact(db: Database) -> None:
    clock = FixedClock()
    runs = BacktestRuns(db, clock)
    first = runs.add(record("sma_cross"))
    clock.advance(minutes=5)
    second = runs.add(record("macd", report="/tmp/r.html"))
    third = runs.add(record("rsi_reversion"))  # same second as the one before

    found = runs.newest_first()
    assert [run.id for run in found] == [third.id, second.id, first.id]
    assert found[1].created_at == "2026-01-15T12:05:00Z"
    assert found[1].record == record("macd", report="/tmp/r.html")
    assert found[1].to_json()["metrics"] == {
        "trades": 4,
        "sharpe": None,
        "total_return_pct": -1.5,
    }
    assert found[2].to_json()["end"] == "2019-02-01T00:00:00Z"
    assert [run.id for run in runs.newest_first(limit=2)] == [third.id, second.id]


def test_a_run_with_a_nan_metric_is_refused_and_not_stored(db: Database) -> None:
    runs = BacktestRuns(db, FixedClock())
    with pytest.raises(ValueError, match="JSON compliant"):
        runs.add(record(metrics={"sharpe": float("nan")}))
    assert runs.newest_first() == []


def test_recording_runs_needs_no_master_key(db: Database, tmp_path: Path) -> None:
    BacktestRuns(db, FixedClock()).add(record())
    names = [row[0] for row in db.connection.execute("SELECT name FROM meta")]
    assert names == []
    assert not (tmp_path / "master.key").exists()
