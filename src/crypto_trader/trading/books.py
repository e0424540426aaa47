"""A session's books: its sleeves and orders, each change stored and audited.

Every order and fill passes through here. An order is stored before it is sent;
a fill updates the order, the sleeve and the session's cursor in the same
transaction as its TRADING_OPERATION record, so a crash at any point leaves the
books, the orders and the audit log in agreement.

A paper session (`group_seconds`) commits in groups instead, between candles:
every few hundred events or half a second of candles, and whenever the feed
pauses, in one transaction with one audit head update for all of them. An order
and the fill it got at once are so always stored together. Nothing outside the
machine depends on paper orders, and the session's cursor moves only with what
was committed, so after a crash the restarted session computes the lost tail
again, identically, from the candles after the cursor.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from crypto_trader.audit.audit_log import AuditLog
from crypto_trader.audit.events import EventType
from crypto_trader.backtest.model import EngineConfig
from crypto_trader.trading.model import Mode, OrderState
from crypto_trader.trading.sleeve import Sleeve
from crypto_trader.trading.store import SessionRow, TradeOrder, TradeStore

log = logging.getLogger(__name__)

Notify = Callable[[str], None]
Write = Callable[[sqlite3.Connection], None]
AuditEntry = tuple[EventType, dict[str, Any]]

GROUP_EVENTS = 256
PAPER_GROUP_SECONDS = 0.5


class Books:
    """The sleeves and in-flight orders of one running session."""

    def __init__(
        self,
        store: TradeStore,
        audit: AuditLog,
        session: SessionRow,
        config: EngineConfig,
        notify: Notify,
        group_seconds: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.audit = audit
        self.session = session
        self.session_id = session.id
        self.config = config
        self.mode = session.spec.mode
        self.exchange = session.spec.exchange
        self.notify = notify
        self.sleeves = store.sleeves(session.id)
        self.in_flight: dict[str, TradeOrder] = {
            o.client_id: o for o in store.orders(session.id, in_flight=True)
        }
        # None: every write commits at once (live); else at a candle's end, once
        # this many seconds passed since the last commit.
        self._group_seconds = group_seconds
        self._cursor_ms = session.cursor_ms or 0
        self._monotonic = monotonic
        self._writes: list[Write] = []
        self._entries: list[AuditEntry] = []
        self._flush_at = 0.0

    def equity(self) -> float:
        """Cash plus every position at its last price."""
        return sum(sleeve.equity() for sleeve in self.sleeves.values())

    def orders_of(self, symbol: str) -> list[TradeOrder]:
        """The in-flight orders of one symbol."""
        return [o for o in self.in_flight.values() if o.symbol == symbol]

    def new_client_id(self) -> str:
        """Our id for an order, in a form every supported exchange accepts."""
        if self.exchange.startswith("kraken"):
            return str(uuid.uuid4())
        return f"ct-{uuid.uuid4().hex[:24]}"

    def open_order(
        self,
        symbol: str,
        side: str,
        kind: str,
        amount: float | None,
        price: float | None,
        reason: str,
        candle_ms: int,
    ) -> TradeOrder:
        """Store a new order (state new) before anything is sent."""
        order = TradeOrder(
            client_id=self.new_client_id(),
            session_id=self.session_id,
            symbol=symbol,
            side=side,
            type=kind,
            amount=amount,
            price=price,
            reason=reason,
            candle_ms=candle_ms,
        )
        # A paper order is placed the moment it is stored: record both at once.
        placed = self._details(order) | {"action": "placed"}
        cursor = self._advance(candle_ms)
        self._commit(
            lambda conn: self._store_new(conn, order, cursor),
            placed if self.mode is Mode.PAPER else None,
        )
        self.in_flight[order.client_id] = order
        return order

    def update(self, order: TradeOrder) -> TradeOrder:
        """Store a change of state or exchange id that moves no money."""
        self._commit(lambda conn: self.store.update_order(conn, order))
        self._track(order)
        return order

    def fill(
        self,
        order: TradeOrder,
        amount: float,
        price: float,
        fee: float,
        candle_ms: int,
        watch_from_ms: int,
        whole_exit: bool = True,
        kept: float = 0.0,
    ) -> TradeOrder:
        """Book a fill of `amount` at `price` against `order`.

        `fee` is in quote. `kept` is the part of a bought `amount` the exchange
        kept as its fee (charged in the base); `fee` includes its quote value,
        and the position gets `amount - kept`, as the account does.
        """
        sleeve = self.sleeves[order.symbol]
        before = replace(sleeve)
        received = amount - kept
        pnl = self._apply(
            sleeve, order, received, price, fee, watch_from_ms, whole_exit
        )
        filled = order.filled + amount
        done = order.amount is None or filled >= order.amount * (1 - 1e-12)
        updated = replace(
            order,
            amount=order.amount if order.amount is not None else amount,
            state=OrderState.FILLED if done else OrderState.PARTIALLY_FILLED,
            filled=filled,
            cost=order.cost + amount * price,
            fee=order.fee + fee,
        )
        details = self._details(updated) | {
            "action": "filled",
            "fill_amount": amount,
            "fill_price": price,
            "fee": fee,
        }
        if kept:
            details["fee_in_base"] = kept
        if pnl is not None:
            details["pnl"] = pnl
        snapshot = replace(sleeve)  # as it is now, whenever the write is committed
        cursor = self._advance(candle_ms)

        def write(conn: sqlite3.Connection) -> None:
            self.store.update_order(conn, updated)
            self.store.insert_fill(
                conn, updated, received, price, fee, candle_ms, updated.reason
            )
            self.store.save_sleeve(conn, self.session_id, snapshot)
            self.store.set_fields(conn, self.session_id, cursor_ms=cursor)

        try:
            self._commit(write, details)
        except BaseException:
            self.sleeves[order.symbol] = before  # nothing was stored
            raise
        self._track(updated)
        return updated

    def close(
        self, order: TradeOrder, state: OrderState, note: str, audit_action: str | None
    ) -> TradeOrder:
        """End an order that will not fill (more): cancelled or rejected."""
        closed = replace(order, state=state, note=note)
        if audit_action is None:
            return self.update(closed)
        details = self._details(closed) | {"action": audit_action, "note": note}
        self._commit(lambda conn: self.store.update_order(conn, closed), details)
        self._track(closed)
        return closed

    # Writing

    @contextlib.contextmanager
    def write(
        self, audited: dict[str, Any] | None = None
    ) -> Iterator[sqlite3.Connection]:
        """A transaction of the runner's own, after every write before it; with
        `audited`, in the same transaction as that TRADING_OPERATION record."""
        self.flush()
        if audited is None:
            with self.store.db.write() as conn:
                yield conn
            return
        details = self.session_details() | audited
        with self.audit.recording(EventType.TRADING_OPERATION, details) as rec:
            yield rec.conn

    def refuse(self, symbol: str, side: str, limit: str, text: str) -> None:
        """An order a limit kept from being sent: PERMISSION_DENIED, and the
        session's last refusal for `trade status`."""
        details = self.session_details() | {
            "operation": "place_order",
            "symbol": symbol,
            "side": side,
            "limit": limit,
            "reason": text,
        }
        self._commit(
            lambda conn: self.store.set_fields(
                conn, self.session_id, last_refusal=text
            ),
            details,
            EventType.PERMISSION_DENIED,
        )

    def session_details(self) -> dict[str, Any]:
        """What every audit record of this session names."""
        details: dict[str, Any] = {
            "mode": self.mode.value,
            "session": self.session_id,
            "exchange": self.exchange,
        }
        if self.session.spec.key_label is not None:
            details["label"] = self.session.spec.key_label
        return details

    def flush(self) -> None:
        """Commit the grouped writes, with their audit records, in one transaction."""
        if not self._writes:
            return
        writes, entries = self._writes, self._entries
        with contextlib.ExitStack() as stack:
            if entries:
                conn = stack.enter_context(self.audit.recording_many(entries))
            else:
                conn = stack.enter_context(self.store.db.write())
            for write in writes:
                write(conn)
        self._writes, self._entries = [], []
        self._flush_at = self._monotonic() + (self._group_seconds or 0.0)

    def end_candle(self) -> None:
        """A candle is done: commit what it and the candles before it wrote, if due."""
        if not self._writes:
            return
        if len(self._writes) >= GROUP_EVENTS or self._monotonic() >= self._flush_at:
            self.flush()

    def _commit(
        self,
        write: Write,
        details: dict[str, Any] | None = None,
        event: EventType = EventType.TRADING_OPERATION,
    ) -> None:
        if self._group_seconds is not None:
            self._writes.append(write)
            if details is not None:
                self._entries.append((event, details))
            return
        if details is None:
            with self.store.db.write() as conn:
                write(conn)
            return
        with self.audit.recording(event, details) as rec:
            write(rec.conn)

    def _store_new(
        self, conn: sqlite3.Connection, order: TradeOrder, cursor: int
    ) -> None:
        self.store.insert_order(conn, order)
        self.store.set_fields(conn, self.session_id, cursor_ms=cursor)

    def _advance(self, candle_ms: int) -> int:
        # The cursor never moves back: a fill learnt late must not make a
        # restarted runner act again on candles it has acted on.
        self._cursor_ms = max(self._cursor_ms, candle_ms)
        return self._cursor_ms

    def _apply(
        self,
        sleeve: Sleeve,
        order: TradeOrder,
        amount: float,
        price: float,
        fee: float,
        watch_from_ms: int,
        whole_exit: bool,
    ) -> float | None:
        if order.side == "buy":
            if order.filled > 0.0 and sleeve.long:
                sleeve.add(price, amount, fee)
            else:
                sleeve.buy(price, amount, fee, self.config)
                sleeve.watch_from_ms = watch_from_ms
            return None
        last_part = order.amount is None or order.filled + amount >= order.amount
        return sleeve.sell(price, amount, fee, whole=whole_exit and last_part)

    def _track(self, order: TradeOrder) -> None:
        if order.state.in_flight:
            self.in_flight[order.client_id] = order
        else:
            self.in_flight.pop(order.client_id, None)

    def _details(self, order: TradeOrder) -> dict[str, Any]:
        return self.session_details() | {
            "symbol": order.symbol,
            "side": order.side,
            "type": order.type,
            "amount": order.amount,
            "price": order.price,
            "reason": order.reason,
            "client_order_id": order.client_id,
            "order_id": order.exchange_id,
            "state": order.state.value,
        }

    def save_marks(self) -> None:
        """The last prices, for `trade status` (after the writes before them)."""
        self.flush()
        self.store.save_marks(self.session_id, self.sleeves.values())

    def any_in_flight(self, symbol: str) -> bool:
        """Whether `symbol` has an order that may still fill."""
        return any(o.symbol == symbol for o in self.in_flight.values())

    def log_fill(self, order: TradeOrder, amount: float, price: float) -> None:
        """One line on the terminal (live and public-data paper sessions)."""
        self.notify(
            f"{order.symbol} {order.side} {amount:.8g} at {price:.8g} "
            f"({self.mode.value}, {order.reason})"
        )
