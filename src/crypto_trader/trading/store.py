"""Trading sessions in the database: sessions, each symbol's sleeve, orders, fills.

The runner writes here when something happens (an order, a fill, a halt), not on
every candle. Each write that the audit log must see happens in the audit
record's own transaction, so the log and the books never disagree.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from crypto_trader.clock import Clock, format_utc
from crypto_trader.storage.database import Database
from crypto_trader.trading.model import OrderState, SessionState, TradeSpec
from crypto_trader.trading.sleeve import Sleeve


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A stored session."""

    id: int
    created_at: str
    updated_at: str
    spec: TradeSpec
    fingerprint: str
    state: SessionState
    halt_reason: str | None
    halted_day: str | None
    last_refusal: str | None
    control: str | None
    cursor_ms: int | None
    day: str | None
    day_start_equity: float | None


@dataclass(frozen=True, slots=True)
class TradeOrder:
    """An order of a session, as stored; amounts and prices are floats."""

    client_id: str
    session_id: int
    symbol: str
    side: str
    type: str
    amount: float | None  # None: a paper buy whose amount its fill decides
    price: float | None
    reason: str
    candle_ms: int
    state: OrderState = OrderState.NEW
    exchange_id: str | None = None
    filled: float = 0.0
    cost: float = 0.0
    fee: float = 0.0
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The order for `trade status --json`."""
        return {
            "client_order_id": self.client_id,
            "order_id": self.exchange_id,
            "symbol": self.symbol,
            "side": self.side,
            "type": self.type,
            "amount": self.amount,
            "price": self.price,
            "state": self.state.value,
            "filled": self.filled,
            "reason": self.reason,
            "note": self.note,
        }


_SLEEVE_COLUMNS = (
    "cash",
    "amount",
    "entry_price",
    "entry_fee",
    "stop",
    "target",
    "peak",
    "watch_from_ms",
    "realized_pnl",
    "fees",
    "trades",
    "last_price",
    "last_time_ms",
)
_ORDER_COLUMNS = (
    "client_id, session_id, symbol, side, type, amount, price, reason, candle_ms, "
    "state, exchange_id, filled, cost, fee, note"
)


class TradeStore:
    """Reads and writes the trading tables of one database."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self._clock = clock

    def now(self) -> str:
        """The time now, as stored."""
        return format_utc(self._clock())

    # Sessions

    def create_session(self, spec: TradeSpec) -> SessionRow:
        """A new running session whose sleeves share the cash evenly."""
        now = self.now()
        share = spec.config.cash / len(spec.symbols)
        with self.db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO trade_sessions (created_at, updated_at, fingerprint, "
                "spec, state) VALUES (?, ?, ?, ?, ?)",
                (
                    now,
                    now,
                    spec.fingerprint(),
                    json.dumps(spec.to_json(), sort_keys=True),
                    SessionState.RUNNING.value,
                ),
            )
            session_id = int(cursor.lastrowid or 0)
            for symbol in spec.symbols:
                self.save_sleeve(conn, session_id, Sleeve(symbol, share))
        return self.session(session_id)

    def session(self, session_id: int) -> SessionRow:
        """The session with this id."""
        row = self.db.connection.execute(
            "SELECT * FROM trade_sessions WHERE id = ?", (session_id,)
        ).fetchone()
        return _session(self.db.connection, row)

    def latest_session(self) -> SessionRow | None:
        """The newest session, ended or not."""
        row = self.db.connection.execute(
            "SELECT * FROM trade_sessions ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else _session(self.db.connection, row)

    def unended_session(self) -> SessionRow | None:
        """The newest session that is running or halted (a crash leaves one so)."""
        row = self.db.connection.execute(
            "SELECT * FROM trade_sessions WHERE state IN (?, ?) ORDER BY id DESC "
            "LIMIT 1",
            (SessionState.RUNNING.value, SessionState.HALTED.value),
        ).fetchone()
        return None if row is None else _session(self.db.connection, row)

    def set_state(
        self,
        conn: sqlite3.Connection,
        session_id: int,
        state: SessionState,
        halt_reason: str | None = None,
        halted_day: str | None = None,
    ) -> None:
        """Move a session to `state`; a halt's reason stays until it is lifted."""
        conn.execute(
            "UPDATE trade_sessions SET state = ?, halt_reason = ?, halted_day = ?, "
            "updated_at = ? WHERE id = ?",
            (state.value, halt_reason, halted_day, self.now(), session_id),
        )

    def set_fields(
        self, conn: sqlite3.Connection, session_id: int, **fields: Any
    ) -> None:
        """Update named columns of a session (its cursor, day, refusal, control)."""
        allowed = {"cursor_ms", "day", "day_start_equity", "last_refusal", "control"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not a session field: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        conn.execute(
            f"UPDATE trade_sessions SET {assignments}, updated_at = ? WHERE id = ?",  # noqa: S608 - names checked above
            (*fields.values(), self.now(), session_id),
        )

    def request(self, session_id: int, control: str | None) -> None:
        """Ask the runner of a session to stop or resume (it polls for this)."""
        with self.db.write() as conn:
            self.set_fields(conn, session_id, control=control)

    def control(self, session_id: int) -> str | None:
        """The pending request to the runner, if any."""
        row = self.db.connection.execute(
            "SELECT control FROM trade_sessions WHERE id = ?", (session_id,)
        ).fetchone()
        return None if row is None else row[0]

    # Sleeves

    def save_sleeve(
        self, conn: sqlite3.Connection, session_id: int, sleeve: Sleeve
    ) -> None:
        """Write one symbol's sleeve."""
        values = [getattr(sleeve, name) for name in _SLEEVE_COLUMNS]
        values[_SLEEVE_COLUMNS.index("target")] = _finite(sleeve.target)
        columns = ", ".join(_SLEEVE_COLUMNS)
        marks = ", ".join("?" for _ in _SLEEVE_COLUMNS)
        conn.execute(
            f"INSERT OR REPLACE INTO trade_sleeves (session_id, symbol, {columns}) "  # noqa: S608 - fixed names
            f"VALUES (?, ?, {marks})",
            (session_id, sleeve.symbol, *values),
        )

    def sleeves(self, session_id: int) -> dict[str, Sleeve]:
        """Each symbol's sleeve, by symbol."""
        columns = ", ".join(_SLEEVE_COLUMNS)
        rows = self.db.connection.execute(
            f"SELECT symbol, {columns} FROM trade_sleeves WHERE session_id = ? "  # noqa: S608 - fixed names
            "ORDER BY symbol",
            (session_id,),
        ).fetchall()
        sleeves: dict[str, Sleeve] = {}
        for row in rows:
            values = dict(zip(_SLEEVE_COLUMNS, row[1:], strict=True))
            values["target"] = _infinite(values["target"])
            sleeves[row[0]] = Sleeve(row[0], **values)
        return sleeves

    def save_marks(self, session_id: int, sleeves: Iterable[Sleeve]) -> None:
        """The last price of each symbol, for `trade status` (no other change)."""
        with self.db.write() as conn:
            conn.executemany(
                "UPDATE trade_sleeves SET last_price = ?, last_time_ms = ? "
                "WHERE session_id = ? AND symbol = ?",
                [(s.last_price, s.last_time_ms, session_id, s.symbol) for s in sleeves],
            )

    # Orders and fills

    def insert_order(self, conn: sqlite3.Connection, order: TradeOrder) -> None:
        """Store a new order, before it is sent anywhere."""
        now = self.now()
        conn.execute(
            f"INSERT INTO trade_orders ({_ORDER_COLUMNS}, created_at, updated_at) "  # noqa: S608 - fixed names
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*_order_values(order), now, now),
        )

    def update_order(self, conn: sqlite3.Connection, order: TradeOrder) -> None:
        """Store an order's new type, state, fill, exchange id or note."""
        conn.execute(
            "UPDATE trade_orders SET type = ?, amount = ?, price = ?, state = ?, "
            "exchange_id = ?, filled = ?, cost = ?, fee = ?, note = ?, updated_at = ? "
            "WHERE client_id = ?",
            (
                order.type,
                order.amount,
                order.price,
                order.state.value,
                order.exchange_id,
                order.filled,
                order.cost,
                order.fee,
                order.note,
                self.now(),
                order.client_id,
            ),
        )

    def insert_fill(
        self,
        conn: sqlite3.Connection,
        order: TradeOrder,
        amount: float,
        price: float,
        fee: float,
        candle_ms: int,
        reason: str,
    ) -> None:
        """Store one fill of an order."""
        conn.execute(
            "INSERT INTO trade_fills (session_id, client_id, symbol, side, amount, "
            "price, fee, candle_ms, reason, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order.session_id,
                order.client_id,
                order.symbol,
                order.side,
                amount,
                price,
                fee,
                candle_ms,
                reason,
                self.now(),
            ),
        )

    def received(self, client_id: str) -> float:
        """What an order's booked fills put in the position (after fees kept in it)."""
        row = self.db.connection.execute(
            "SELECT COALESCE(SUM(amount), 0.0) FROM trade_fills WHERE client_id = ?",
            (client_id,),
        ).fetchone()
        return float(row[0])

    def orders(self, session_id: int, in_flight: bool = False) -> list[TradeOrder]:
        """A session's orders, oldest first; only those that may still fill if asked."""
        states = [s.value for s in OrderState if s.in_flight or not in_flight]
        marks = ", ".join("?" for _ in states)
        rows = self.db.connection.execute(
            f"SELECT {_ORDER_COLUMNS} FROM trade_orders WHERE session_id = ? "  # noqa: S608 - fixed names
            f"AND state IN ({marks}) ORDER BY rowid",
            (session_id, *states),
        ).fetchall()
        return [_order(row) for row in rows]

    def fills(self, session_id: int) -> list[dict[str, Any]]:
        """A session's fills, oldest first."""
        rows = self.db.connection.execute(
            "SELECT client_id, symbol, side, amount, price, fee, candle_ms, reason "
            "FROM trade_fills WHERE session_id = ? ORDER BY id",
            (session_id,),
        ).fetchall()
        names = ("client_id", "symbol", "side", "amount", "price", "fee")
        return [
            dict(zip(names, row[:6], strict=True))
            | {"candle_ms": row[6], "reason": row[7]}
            for row in rows
        ]


def _session(conn: sqlite3.Connection, row: tuple[Any, ...]) -> SessionRow:
    names = [
        d[0] for d in conn.execute("SELECT * FROM trade_sessions LIMIT 0").description
    ]
    values = dict(zip(names, row, strict=True))
    return SessionRow(
        id=values["id"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        spec=TradeSpec.from_json(json.loads(values["spec"])),
        fingerprint=values["fingerprint"],
        state=SessionState(values["state"]),
        halt_reason=values["halt_reason"],
        halted_day=values["halted_day"],
        last_refusal=values["last_refusal"],
        control=values["control"],
        cursor_ms=values["cursor_ms"],
        day=values["day"],
        day_start_equity=values["day_start_equity"],
    )


def _order_values(order: TradeOrder) -> tuple[Any, ...]:
    return (
        order.client_id,
        order.session_id,
        order.symbol,
        order.side,
        order.type,
        order.amount,
        order.price,
        order.reason,
        order.candle_ms,
        order.state.value,
        order.exchange_id,
        order.filled,
        order.cost,
        order.fee,
        order.note,
    )


def _order(row: tuple[Any, ...]) -> TradeOrder:
    return TradeOrder(
        client_id=row[0],
        session_id=row[1],
        symbol=row[2],
        side=row[3],
        type=row[4],
        amount=row[5],
        price=row[6],
        reason=row[7],
        candle_ms=row[8],
        state=OrderState(row[9]),
        exchange_id=row[10],
        filled=row[11],
        cost=row[12],
        fee=row[13],
        note=row[14],
    )


def _finite(value: float) -> float:
    # SQLite stores inf, but JSON and some tools choke on it: -1 means "none".
    return -1.0 if math.isinf(value) else value


def _infinite(value: float) -> float:
    return math.inf if value < 0 else value


def with_state(
    order: TradeOrder, state: OrderState, note: str | None = None
) -> TradeOrder:
    """`order` in `state`, with `note` if given."""
    return replace(order, state=state, note=note if note is not None else order.note)
