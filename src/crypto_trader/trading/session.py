"""Starting, resuming, stopping and reporting trading sessions.

`start` is what `crypto-trader trade` does: take the home's runner lock, find or
create the session, open the exchange (live: with a trading key, checked first),
build the feed, the books and the broker, and run until the end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crypto_trader.backtest.engine import with_stops
from crypto_trader.backtest.strategy import Strategy
from crypto_trader.errors import ConfigurationError, InputError
from crypto_trader.installation import Installation
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.series import SeriesId, series_id
from crypto_trader.permissions import Operation
from crypto_trader.trading.books import PAPER_GROUP_SECONDS, Books, Notify
from crypto_trader.trading.feeds import ExchangeFeed, replay_feed
from crypto_trader.trading.lock import RunnerLock
from crypto_trader.trading.model import Mode, OrderState, SessionState, TradeSpec
from crypto_trader.trading.paper import PaperBroker
from crypto_trader.trading.risk import RiskLimits
from crypto_trader.trading.runner import Broker, Outcome, Runner
from crypto_trader.trading.store import SessionRow, TradeStore

log = logging.getLogger(__name__)

Confirm = Callable[[TradeSpec], None]
STOP_WAIT_S = 60.0


@dataclass(frozen=True, slots=True)
class Started:
    """A session and how its run ended."""

    session: SessionRow
    outcome: Outcome
    resumed: bool


def runner_lock(installation: Installation) -> RunnerLock:
    """The home's runner lock."""
    return RunnerLock(installation.home.root / "trade.lock")


def start(
    installation: Installation,
    spec: TradeSpec,
    strategy: Strategy,
    notify: Notify,
    confirm: Confirm | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Started:
    """Run `spec` to its end, resuming the unended session with the same spec."""
    lock = runner_lock(installation)
    lock.acquire(0, spec.describe())
    try:
        store = TradeStore(installation.db, installation.clock)
        unended = store.unended_session()
        if unended is not None and unended.fingerprint != spec.fingerprint():
            raise InputError(
                f"session {unended.id} ({unended.spec.describe()}) did not end; start "
                "it again with the same options to resume it, or end it with "
                "`crypto-trader trade stop`"
            )
        if spec.mode is Mode.LIVE:
            _check_live_key(installation, spec)
            if confirm is not None:
                confirm(spec)
        candle_store = CandleStore.for_home(installation.home)
        series = [series_id(spec.exchange, s, spec.timeframe) for s in spec.symbols]
        if spec.replay:
            # Load first: a missing series is refused before a session exists.
            preloaded = replay_feed(candle_store, series, None, spec.speed, sleep)
        session = unended or store.create_session(spec)
        resumed = unended is not None
        lock.acquire_note(session.id, spec.describe())
        if resumed:
            session = _reopen(store, session, notify)
        limits = RiskLimits.from_settings(installation.settings)
        config = limits.apply_stops(with_stops(spec.config, strategy.stops()))
        books = Books(
            store,
            installation.audit,
            session,
            config,
            notify,
            group_seconds=_group_seconds(spec),
        )
        timeframe_ms = series[0].timeframe.ms
        feed: Any
        if spec.replay:
            feed = (
                preloaded
                if session.cursor_ms is None
                else replay_feed(
                    candle_store, series, session.cursor_ms, spec.speed, sleep
                )
            )
            broker: Broker = PaperBroker(books, timeframe_ms, echo=False)
        else:
            broker, feed = _exchange_parts(
                installation, spec, books, series, candle_store, notify, sleep
            )
        streams = {symbol: strategy.stream() for symbol in spec.symbols}
        runner = Runner(
            books,
            streams,
            broker,
            feed,
            limits,
            timeframe_ms,
            notify,
        )
        outcome = runner.run()
        return Started(store.session(session.id), outcome, resumed)
    finally:
        lock.release()


def _group_seconds(spec: TradeSpec) -> float | None:
    # Live orders are stored the moment they change (before they are sent);
    # paper ones in groups, between candles.
    return None if spec.mode is Mode.LIVE else PAPER_GROUP_SECONDS


def _check_live_key(installation: Installation, spec: TradeSpec) -> None:
    from crypto_trader.exchanges.sessions import check_key_exchange

    if spec.key_label is None:
        raise InputError("--mode live needs --key LABEL, a key with the trading level")
    check_key_exchange(installation, spec.key_label, spec.exchange)
    # A read-only key is refused here, before anything is sent, and the refusal
    # is recorded as PERMISSION_DENIED.
    installation.gate.check(spec.key_label, Operation.TRADE, "trade --mode live")


def _reopen(store: TradeStore, session: SessionRow, notify: Notify) -> SessionRow:
    notify(f"resuming session {session.id} ({session.spec.describe()})")
    if session.state is SessionState.HALTED and session.halted_day is None:
        # Stopped for a key or authentication failure: a new start tries again.
        with store.db.write() as conn:
            store.set_state(conn, session.id, SessionState.RUNNING)
    with store.db.write() as conn:
        store.set_fields(conn, session.id, control=None)
    return store.session(session.id)


def _exchange_parts(
    installation: Installation,
    spec: TradeSpec,
    books: Books,
    series: list[SeriesId],
    candle_store: CandleStore,
    notify: Notify,
    sleep: Callable[[float], None],
) -> tuple[Broker, ExchangeFeed]:
    from crypto_trader.exchanges.ohlcv_source import ExchangeOhlcvSource
    from crypto_trader.exchanges.orders import OrderDesk
    from crypto_trader.exchanges.sessions import open_keyed_door, open_public_door
    from crypto_trader.trading.live import LiveBroker

    timeframe_ms = series[0].timeframe.ms
    broker: Broker
    if spec.mode is Mode.LIVE:
        label = spec.key_label or ""  # checked by _check_live_key
        door = open_keyed_door(installation, label, sleep=sleep)
        broker = LiveBroker(
            books,
            door,
            OrderDesk(door, installation.audit),
            timeframe_ms,
            spec.order_kind,
        )
    else:
        door = open_public_door(installation, spec.exchange, sleep=sleep)
        broker = PaperBroker(books, timeframe_ms, echo=True)
    source = ExchangeOhlcvSource(door, installation.clock)
    poll = float(installation.settings.get("trade.poll_seconds")) or auto_poll_seconds(
        timeframe_ms
    )
    feed = ExchangeFeed(
        candle_store, source, series, books.session.cursor_ms, poll, notify, sleep
    )
    return broker, feed


def auto_poll_seconds(timeframe_ms: int) -> float:
    """A twelfth of a candle, from 1 to 30 seconds."""
    return min(max(timeframe_ms / 1000 / 12, 1.0), 30.0)


# Other terminals: status, stop, resume


def status(installation: Installation) -> dict[str, Any]:
    """The newest session's state, books and orders, for `trade status`."""
    store = TradeStore(installation.db, installation.clock)
    session = store.latest_session()
    if session is None:
        raise ConfigurationError(
            "no trading session yet; start one with `crypto-trader trade --strategy "
            "NAME --exchange EX --symbol SYM --timeframe TF --mode paper`"
        )
    sleeves = store.sleeves(session.id)
    orders = store.orders(session.id, in_flight=True)
    alive = runner_lock(installation).is_held()
    positions = [
        {
            "symbol": s.symbol,
            "amount": s.amount,
            "entry_price": s.entry_price if s.long else None,
            "last_price": s.last_price,
            "value": s.amount * (s.last_price or s.entry_price),
            "unrealized_pnl": s.unrealized_pnl(),
            "stop_loss": s.stop or None,
            "take_profit": None if s.target == float("inf") else s.target,
        }
        for s in sleeves.values()
        if s.long
    ]
    balances: dict[str, float] = {}
    quote_total = 0.0
    for sleeve in sleeves.values():
        base, quote = sleeve.symbol.split("/")
        quote_total += sleeve.cash
        balances[quote] = balances.get(quote, 0.0) + sleeve.cash
        if sleeve.amount:
            balances[base] = balances.get(base, 0.0) + sleeve.amount
    spec = session.spec
    return {
        "session": session.id,
        "state": session.state.value,
        "runner_alive": alive,
        "strategy": spec.strategy,
        "params": spec.params,
        "mode": spec.mode.value,
        "replay": spec.replay,
        "exchange": spec.exchange,
        "symbols": list(spec.symbols),
        "timeframe": spec.timeframe,
        "started_at": session.created_at,
        "updated_at": session.updated_at,
        "equity": sum(s.equity() for s in sleeves.values()),
        "cash": quote_total,
        "balances": balances,
        "positions": positions,
        "open_orders": [o.to_json() for o in orders],
        "realized_pnl": sum(s.realized_pnl for s in sleeves.values()),
        "unrealized_pnl": sum(s.unrealized_pnl() for s in sleeves.values()),
        "fees": sum(s.fees for s in sleeves.values()),
        "trades": sum(s.trades for s in sleeves.values()),
        "halt_reason": session.halt_reason,
        "last_refusal": session.last_refusal,
        "last_candle": max(
            (s.last_time_ms for s in sleeves.values() if s.last_time_ms is not None),
            default=None,
        ),
    }


def stop(
    installation: Installation,
    wait_s: float = STOP_WAIT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[SessionRow | None, str]:
    """Stop the unended session: ask its runner, or end it if no runner is up."""
    store = TradeStore(installation.db, installation.clock)
    session = store.unended_session()
    if session is None:
        return None, "no trading session is running; nothing to stop"
    lock = runner_lock(installation)
    if lock.is_held():
        store.request(session.id, "stop")
        deadline = time.monotonic() + wait_s
        while lock.is_held() and time.monotonic() < deadline:
            sleep(0.05)
        ended = store.session(session.id)
        if not ended.state.ended:
            return ended, (
                f"asked session {session.id} to stop; its runner has not finished "
                "yet (it stops after its current request)"
            )
        return ended, f"session {session.id} stopped; its open orders were cancelled"
    return _end_without_runner(store, session)


def _end_without_runner(
    store: TradeStore, session: SessionRow
) -> tuple[SessionRow, str]:
    left = store.orders(session.id, in_flight=True)
    with store.db.write() as conn:
        if session.spec.mode is Mode.PAPER:
            for order in left:
                store.update_order(
                    conn,
                    _closed(order, "cancelled: the session was stopped"),
                )
        store.set_state(conn, session.id, SessionState.STOPPED, session.halt_reason)
        store.set_fields(conn, session.id, control=None)
    message = f"session {session.id} stopped (no runner was running)"
    if session.spec.mode is Mode.LIVE and left:
        ids = ", ".join(o.client_id for o in left)
        message += (
            f"; {len(left)} orders may still be open on {session.spec.exchange} "
            f"({ids}): check them with `crypto-trader order list`"
        )
    return store.session(session.id), message


def _closed(order: Any, note: str) -> Any:
    from dataclasses import replace

    return replace(order, state=OrderState.CANCELLED, note=note)


def resume(installation: Installation, wait_s: float = 10.0) -> str:
    """Lift a halt of the running session."""
    store = TradeStore(installation.db, installation.clock)
    session = store.unended_session()
    if session is None:
        raise ConfigurationError("no trading session is running; nothing to resume")
    if session.state is not SessionState.HALTED:
        return f"session {session.id} is not halted; it is {session.state.value}"
    if not runner_lock(installation).is_held():
        return (
            f"session {session.id} is halted and its runner is not running; start "
            "the same `crypto-trader trade` command again to resume it"
        )
    store.request(session.id, "resume")
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if store.session(session.id).state is not SessionState.HALTED:
            return f"session {session.id} resumed trading"
        time.sleep(0.05)
    return f"asked session {session.id} to resume; its runner will pick it up"
