"""Past backtests, kept in the database's `backtest_runs` table.

Only the database is touched: recording or listing runs needs no master key.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crypto_trader.clock import Clock, format_utc
from crypto_trader.storage.database import Database

_FIELDS = (
    'created_at, strategy, params, exchange, symbol, timeframe, start, "end", '
    "config, metrics, report"
)
_INSERT = (
    f"INSERT INTO backtest_runs ({_FIELDS}) "  # noqa: S608 - fixed column names
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT = (
    f"SELECT id, {_FIELDS} FROM backtest_runs "  # noqa: S608 - fixed column names
    "ORDER BY created_at DESC, id DESC LIMIT ?"
)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One backtest as stored: what ran, on which candles, and its metrics.

    `start` is the first candle's open time and `end` the last candle's close
    (exclusive), both ISO 8601 UTC; `report` is the HTML report's path, if any.
    """

    strategy: str
    params: Mapping[str, Any]
    exchange: str
    symbol: str
    timeframe: str
    start: str
    end: str
    config: Mapping[str, Any]
    metrics: Mapping[str, Any]
    report: str | None = None


@dataclass(frozen=True, slots=True)
class BacktestRun:
    """A stored run: its number, when it ran, and its record."""

    id: int
    created_at: str
    record: RunRecord

    def to_json(self) -> dict[str, Any]:
        """The object `backtest list --json` prints for this run."""
        r = self.record
        return {
            "id": self.id,
            "created_at": self.created_at,
            "strategy": r.strategy,
            "params": dict(r.params),
            "exchange": r.exchange,
            "symbol": r.symbol,
            "timeframe": r.timeframe,
            "start": r.start,
            "end": r.end,
            "config": dict(r.config),
            "metrics": dict(r.metrics),
            "report": r.report,
        }


class BacktestRuns:
    """The runs stored in one database."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def add(self, record: RunRecord) -> BacktestRun:
        """Store `record` as a new run, stamped with the clock's time."""
        created_at = format_utc(self._clock())
        values = (
            created_at,
            record.strategy,
            _dump(record.params),
            record.exchange,
            record.symbol,
            record.timeframe,
            record.start,
            record.end,
            _dump(record.config),
            _dump(record.metrics),
            record.report,
        )
        with self._db.write() as conn:
            run_id = conn.execute(_INSERT, values).lastrowid
        assert run_id is not None  # noqa: S101 - set by every INSERT
        return BacktestRun(run_id, created_at, record)

    def newest_first(self, limit: int | None = None) -> list[BacktestRun]:
        """Stored runs, the newest first; at most `limit` of them."""
        rows = self._db.connection.execute(
            _SELECT, (-1 if limit is None else limit,)
        ).fetchall()
        return [_run(row) for row in rows]


def _dump(value: Mapping[str, Any]) -> str:
    # allow_nan=False: a metric must be a number or null, never NaN or Infinity.
    return json.dumps(dict(value), allow_nan=False, ensure_ascii=True)


def _run(row: sqlite3.Row | tuple[Any, ...]) -> BacktestRun:
    (run_id, created_at, strategy, params, exchange, symbol, timeframe) = row[:7]
    (start, end, config, metrics, report) = row[7:]
    record = RunRecord(
        strategy=strategy,
        params=json.loads(params),
        exchange=exchange,
        symbol=symbol,
        timeframe=timeframe,
        start=start,
        end=end,
        config=json.loads(config),
        metrics=json.loads(metrics),
        report=report,
    )
    return BacktestRun(int(run_id), created_at, record)
