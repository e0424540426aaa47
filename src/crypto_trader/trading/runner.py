"""The runner: closed candles in, the strategy's decisions out, as orders.

For each closed candle of a symbol it does what the backtest kernel does at that
candle, in the same order: fill what was decided at the previous close (paper),
check the position's stop, trailing stop and take-profit against the candle's
range, then ask the strategy's signal stream for this close's decision. Candles
from before the session's last write are only fed to the stream (warm-up), so a
restarted runner carries on from exactly the state it had.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from crypto_trader.backtest.streaming import SignalStream
from crypto_trader.trading.books import Books, Notify
from crypto_trader.trading.model import SessionState
from crypto_trader.trading.risk import MarketRules, RiskLimits
from crypto_trader.trading.sleeve import EXIT_OPEN, EXIT_REASONS, action
from crypto_trader.trading.store import TradeOrder

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
CONTROL_INTERVAL_S = 0.25
MARKS_INTERVAL_S = 1.0

# A closed candle: symbol, open time, open, high, low, close, volume, and whether
# it is warm-up (fed to the strategy only).
CandleEvent = tuple[str, int, float, float, float, float, float, bool]


class Broker(Protocol):
    """Where orders go: the paper simulation or the exchange."""

    def reconcile(self) -> None:
        """Bring the books' in-flight orders in line with the exchange."""

    def poll(self) -> None:
        """Follow in-flight orders between candles."""

    def market_rules(self, symbol: str) -> MarketRules | None:
        """The market's precision and minimums, when known."""

    def on_open(self, symbol: str, time_ms: int, price: float) -> None:
        """A new candle opened at `price`."""

    def send(self, order: TradeOrder, quote: float, time_ms: int, now: bool) -> None:
        """Send a stored order; `now` for a fill at `quote` without waiting."""

    def cancel_all(self, note: str) -> None:
        """Cancel every in-flight order."""

    def close(self) -> None:
        """Release connections and keys."""


class TradingHalt(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Trading must stop now (a key lost its rights, or authentication failed)."""

    def __init__(self, reason: str, exit_code: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended."""

    state: SessionState
    reason: str | None = None
    exit_code: int = 0


class Runner:
    """Drives one session: a feed of candles, the books, a broker, the limits."""

    def __init__(
        self,
        books: Books,
        streams: dict[str, SignalStream],
        broker: Broker,
        feed: Iterable[CandleEvent | None],
        risk: RiskLimits,
        timeframe_ms: int,
        notify: Notify,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.books = books
        self.streams = streams
        self.broker = broker
        self.feed = feed
        self.risk = risk
        self.timeframe_ms = timeframe_ms
        self.notify = notify
        self._monotonic = monotonic
        self._trailing = books.config.trailing_stop or 0.0
        self._fill_at_close = books.config.fill.value == "close"
        session = books.session
        self.state = session.state
        self.halt_reason = session.halt_reason
        self.halted_day = _day_number(session.halted_day)
        self.day = _day_number(session.day)
        self.day_start_equity = session.day_start_equity
        self.candles_seen = 0
        self._next_control = 0.0
        self._next_marks = 0.0
        self._marks_due = False

    # The loop

    def run(self) -> Outcome:
        """Run until the feed ends, a stop is asked for, or trading must halt."""
        try:
            self.broker.reconcile()
            for event in self.feed:
                if event is None:
                    # The feed pauses between closes: store what the last did.
                    self.books.flush()
                    self._save_marks()
                    self.broker.poll()
                else:
                    self.on_candle(*event)
                if self._monotonic() >= self._next_control and self._control():
                    return self._stop("stopped on request")
            return self._finish()
        except TradingHalt as halt:
            return self._halt_for_good(halt)
        except KeyboardInterrupt:
            return self._stop("interrupted")
        finally:
            self.broker.close()

    def on_candle(
        self,
        symbol: str,
        time_ms: int,
        open_: float,
        high: float,
        low: float,
        close: float,
        volume: float,
        warm: bool,
    ) -> None:
        """Do what the backtest does at one closed candle of `symbol`."""
        sleeve = self.books.sleeves[symbol]
        stream = self.streams[symbol]
        if warm:
            stream.update(open_, high, low, close, volume)
            if sleeve.long and time_ms >= sleeve.watch_from_ms:
                sleeve.peak = max(sleeve.peak, high)
            sleeve.last_price, sleeve.last_time_ms = close, time_ms
            return
        self.candles_seen += 1
        self._new_day(time_ms)
        self.broker.on_open(symbol, time_ms, open_)
        selling = any(o.side == "sell" for o in self.books.orders_of(symbol))
        if sleeve.long and not selling and time_ms >= sleeve.watch_from_ms:
            quote, reason = sleeve.protective_exit(open_, high, low, self._trailing)
            if reason != EXIT_OPEN:
                self._order(symbol, "sell", quote, EXIT_REASONS[reason], time_ms, True)
            else:
                # The high raises the trailing stop from the next candle on.
                sleeve.peak = max(sleeve.peak, high)
        entry, exit_ = stream.update(open_, high, low, close, volume)
        if not self.books.any_in_flight(symbol):
            decision = action(sleeve.long, entry, exit_)
            if decision:
                side = "buy" if decision > 0 else "sell"
                self._order(symbol, side, close, "signal", time_ms, self._fill_at_close)
        sleeve.last_price, sleeve.last_time_ms = close, time_ms
        self._check_daily_loss(time_ms)
        self.books.end_candle()
        self._marks_due = True
        if self._monotonic() >= self._next_marks:
            self._save_marks()

    def _save_marks(self) -> None:
        # At most once a second while candles stream in, and once after each
        # burst of them (one close of many symbols), never once per symbol.
        if self._marks_due:
            self._next_marks = self._monotonic() + MARKS_INTERVAL_S
            self._marks_due = False
            self.books.save_marks()

    # Orders

    def _order(
        self, symbol: str, side: str, quote: float, reason: str, time_ms: int, now: bool
    ) -> None:
        if self.state is not SessionState.RUNNING:
            return
        sleeve = self.books.sleeves[symbol]
        rules = self.broker.market_rules(symbol)
        amount: float | None
        if side == "buy":
            budget = sleeve.budget(self.books.config)
            if not budget > 0.0:
                return
            estimate = budget / (quote * (1.0 + self.books.config.fee_rate))
            refusal = self.risk.entry_refusal(
                len(self.books.in_flight), sleeve.amount * quote, estimate * quote
            )
            amount = None if rules is None else rules.amount(estimate)
        else:
            refusal = None
            amount = sleeve.amount if rules is None else rules.amount(sleeve.amount)
        if refusal is None and rules is not None and amount is not None:
            refusal = rules.refusal(amount, quote)
        if refusal is not None:
            self._refuse(symbol, side, refusal)
            return
        kind = "market"
        order = self.books.open_order(symbol, side, kind, amount, None, reason, time_ms)
        self.broker.send(order, quote, time_ms, now)

    def _refuse(self, symbol: str, side: str, why: str) -> None:
        text = f"{symbol} {side} not sent: {why}"
        log.warning("%s", text)  # also the terminal's line
        limit = why.split(" ", 1)[0] if why.startswith("risk.") else "market"
        self.books.refuse(symbol, side, limit, text)

    # Halts, stops and days

    def _new_day(self, time_ms: int) -> None:
        day = (time_ms + self.timeframe_ms) // DAY_MS
        if day == self.day:
            return
        self.day = day
        self.day_start_equity = self.books.equity()
        if self.risk.max_daily_loss_pct:
            with self.books.write() as conn:
                self.books.store.set_fields(
                    conn,
                    self.books.session_id,
                    day=_day_text(day),
                    day_start_equity=self.day_start_equity,
                )
        halted = self.state is SessionState.HALTED and self.halted_day is not None
        if halted and day > (self.halted_day or 0):
            self._set_running("a new UTC day began")

    def _check_daily_loss(self, time_ms: int) -> None:
        if not self.risk.max_daily_loss_pct or self.day_start_equity is None:
            return
        if self.state is not SessionState.RUNNING:
            return
        equity = self.books.equity()
        if not self.risk.daily_loss_breached(self.day_start_equity, equity):
            return
        loss = 100 * (1 - equity / self.day_start_equity)
        reason = (
            f"risk.max_daily_loss_pct ({self.risk.max_daily_loss_pct:g}%) reached: "
            f"equity {equity:.2f} is {loss:.2f}% below {self.day_start_equity:.2f} "
            f"at the start of {_day_text(self.day)} UTC; trading resumes the next "
            "UTC day or on `crypto-trader trade resume`"
        )
        self.broker.cancel_all("cancelled by the daily loss halt")
        self.state = SessionState.HALTED
        self.halt_reason = reason
        self.halted_day = self.day
        with self.books.write({"action": "halted", "reason": reason}) as conn:
            self.books.store.set_state(
                conn, self.books.session_id, self.state, reason, _day_text(self.day)
            )
        log.warning("trading halted: %s", reason)  # also the terminal's line

    def _set_running(self, why: str) -> None:
        self.state = SessionState.RUNNING
        self.halt_reason = None
        self.halted_day = None
        # The day's loss counts from here: the loss that halted it is accepted.
        self.day_start_equity = self.books.equity()
        with self.books.write({"action": "resumed", "reason": why}) as conn:
            self.books.store.set_state(conn, self.books.session_id, self.state)
            self.books.store.set_fields(
                conn, self.books.session_id, day_start_equity=self.day_start_equity
            )
        log.info("trading resumed: %s", why)
        self.notify(f"resumed: {why}")

    def _control(self) -> bool:
        """Act on `trade stop` and `trade resume`; True when asked to stop."""
        self._next_control = self._monotonic() + CONTROL_INTERVAL_S
        request = self.books.store.control(self.books.session_id)
        if request is None:
            return False
        with self.books.write() as conn:
            self.books.store.set_fields(conn, self.books.session_id, control=None)
        if request == "stop":
            return True
        if request == "resume" and self.state is SessionState.HALTED:
            self._set_running("resumed on request")
        return False

    def _stop(self, why: str) -> Outcome:
        self.broker.cancel_all(f"cancelled: the session was {why}")
        self.books.save_marks()
        self._end(SessionState.STOPPED)
        self.notify(f"session {self.books.session_id} {why}")
        return Outcome(SessionState.STOPPED, why)

    def _finish(self) -> Outcome:
        # A replay ran out of candles: what was decided on the last close never fills.
        self.broker.cancel_all("the replay ended before it could fill")
        self.books.save_marks()
        self._end(SessionState.FINISHED)
        return Outcome(SessionState.FINISHED)

    def _end(self, state: SessionState) -> None:
        with self.books.write() as conn:
            self.books.store.set_state(
                conn, self.books.session_id, state, self.halt_reason, None
            )
            self.books.store.set_fields(conn, self.books.session_id, control=None)
        self.state = state

    def _halt_for_good(self, halt: TradingHalt) -> Outcome:
        reason = halt.reason
        log.error("trading stopped: %s", reason)
        self.books.flush()
        self.books.audit.record_error(
            {
                "operation": "trade",
                "session": self.books.session_id,
                "exchange": self.books.exchange,
                "reason": reason,
            }
        )
        self.books.save_marks()
        with self.books.write() as conn:
            self.books.store.set_state(
                conn, self.books.session_id, SessionState.HALTED, reason, None
            )
        self.state = SessionState.HALTED
        self.notify(f"error: trading stopped: {reason}")
        return Outcome(SessionState.HALTED, reason, halt.exit_code)


def merge_by_time(
    series: dict[str, Iterator[CandleEvent]],
) -> Iterator[CandleEvent]:
    """Several symbols' candles as one stream, oldest open time first."""
    import heapq

    return heapq.merge(*series.values(), key=lambda event: event[1])


def _day_text(day: int | None) -> str | None:
    if day is None:
        return None
    return time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))


def _day_number(text: str | None) -> int | None:
    if not text:
        return None
    import calendar

    return calendar.timegm(time.strptime(text, "%Y-%m-%d")) // 86_400
