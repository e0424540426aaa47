"""Live orders: sent once through the exchange door, followed by our client id.

Every order is in the books (state new) before it is sent. An unanswered order
is looked up by its client order id, never sent again; at start and on every
poll the books follow what the exchange says of each order. A key that lost its
trading rights, or an authentication failure, stops trading at once.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from crypto_trader.errors import (
    CryptoTraderError,
    ExchangeAuthenticationError,
    ExchangeNetworkError,
    ExchangePermissionError,
    ExchangeUnavailableError,
    OrderOutcomeUnknownError,
    PermissionDeniedError,
    RateLimitedError,
    SecurityRefusalError,
)
from crypto_trader.exchanges.door import ExchangeDoor
from crypto_trader.exchanges.orders import OrderDesk, OrderRequest, OrderType, Side
from crypto_trader.trading.books import Books
from crypto_trader.trading.model import OrderKind, OrderState
from crypto_trader.trading.risk import MarketRules
from crypto_trader.trading.runner import TradingHalt
from crypto_trader.trading.store import TradeOrder

log = logging.getLogger(__name__)

TRANSIENT = (RateLimitedError, ExchangeNetworkError, ExchangeUnavailableError)
_ENDED = {"canceled": OrderState.CANCELLED, "cancelled": OrderState.CANCELLED}


class LiveBroker:
    """Sends the runner's orders to the exchange and books what it reports."""

    def __init__(
        self,
        books: Books,
        door: ExchangeDoor,
        desk: OrderDesk,
        timeframe_ms: int,
        order_kind: OrderKind,
    ) -> None:
        self.books = books
        self.door = door
        self.desk = desk
        self.timeframe_ms = timeframe_ms
        self.order_kind = order_kind
        self._rules: dict[str, MarketRules] = {}

    def market_rules(self, symbol: str) -> MarketRules:
        """The market's precision and minimums (loaded once)."""
        if symbol not in self._rules:
            self._rules[symbol] = MarketRules.from_market(self.desk.market(symbol))
        return self._rules[symbol]

    def reconcile(self) -> None:
        """Follow every in-flight order to what the exchange says of it."""
        self.poll()

    def poll(self) -> None:
        """Ask the exchange about each in-flight order; trouble waits for next time."""
        for order in list(self.books.in_flight.values()):
            try:
                self._follow(order)
            except TRANSIENT as exc:
                log.warning(
                    "could not follow order %s (%s); will try again",
                    order.client_id,
                    type(exc).__name__,
                )
                return
            except (ExchangeAuthenticationError, ExchangePermissionError) as exc:
                raise TradingHalt(_auth_reason(exc), exc.exit_code) from None
            except SecurityRefusalError:
                raise
            except CryptoTraderError as exc:
                # The books can no longer be matched to the exchange: trading on
                # would act on a position we do not know. Stop and say so.
                raise TradingHalt(
                    f"could not follow order {order.client_id} ({order.symbol}): "
                    f"{exc}; check it with `crypto-trader order list`, then start "
                    "the same command again",
                    exc.exit_code,
                ) from None

    def on_open(self, symbol: str, time_ms: int, price: float) -> None:
        """A candle closed: catch up on fills; cancel limit orders a candle old."""
        self.poll()
        for order in self.books.orders_of(symbol):
            if order.type == "limit" and order.candle_ms < time_ms:
                self._cancel(order, "unfilled after one candle")

    def send(self, order: TradeOrder, quote: float, time_ms: int, now: bool) -> None:
        """Place a stored order on the exchange, once."""
        rules = self.market_rules(order.symbol)
        kind = OrderType.MARKET
        price: Decimal | None = None
        if self.order_kind is OrderKind.LIMIT:
            kind, price = OrderType.LIMIT, Decimal(repr(rules.price(quote)))
        amount = order.amount if order.amount is not None else 0.0
        request = OrderRequest(
            order.symbol, Side(order.side), kind, Decimal(repr(amount)), price
        )
        if kind is OrderType.LIMIT:
            order = self.books.update(
                _with(order, type="limit", price=float(price or 0))
            )
        try:
            placed = self.desk.place(request, client_id=order.client_id)
        except PermissionDeniedError as exc:
            self.books.close(
                order, OrderState.REJECTED, "refused: key is read-only", None
            )
            raise TradingHalt(str(exc), exc.exit_code) from None
        except (ExchangeAuthenticationError, ExchangePermissionError) as exc:
            self.books.close(
                order, OrderState.REJECTED, "refused by the exchange", None
            )
            raise TradingHalt(_auth_reason(exc), exc.exit_code) from None
        except OrderOutcomeUnknownError as exc:
            # The exchange failed the request and has no such order: not placed.
            self._reject(order, exc)
            return
        except (ExchangeNetworkError, ExchangeUnavailableError) as exc:
            # Neither the order nor the lookup was answered: it stays new, and
            # the next poll asks again by our id. It is never re-sent.
            log.warning(
                "%s %s order %s got no answer (%s); it is looked up by its client "
                "order id, never sent again",
                order.symbol,
                order.side,
                order.client_id,
                type(exc).__name__,
            )
            return
        except SecurityRefusalError:
            raise
        except CryptoTraderError as exc:  # rate limit, funds, market rules
            self._reject(order, exc)
            return
        try:
            self._apply(order, placed)
        except TRANSIENT as exc:
            # Placed; what is missing (its fees) is asked again at the next poll.
            log.warning(
                "order %s placed; its details could not be read yet (%s)",
                order.client_id,
                type(exc).__name__,
            )

    def cancel_all(self, note: str) -> None:
        """Cancel every in-flight order on the exchange."""
        for order in list(self.books.in_flight.values()):
            try:
                self._cancel(order, note)
            except TRANSIENT as exc:
                log.warning(
                    "%s order %s could not be cancelled now (%s); it is followed "
                    "again at the next start",
                    order.symbol,
                    order.client_id,
                    type(exc).__name__,
                )

    def close(self) -> None:
        """Close the door and drop the key material."""
        self.door.close()

    # Following orders

    def _follow(self, order: TradeOrder) -> None:
        if order.exchange_id is None:
            found = self.desk.find_by_client_id(order.symbol, order.client_id)
            if found is None:
                self.books.close(
                    order,
                    OrderState.REJECTED,
                    "never reached the exchange: not placed, not re-sent",
                    None,
                )
                return
            self._apply(order, found)
            return
        info = self.door.read(
            "fetch_order",
            lambda c: c.fetch_order(order.exchange_id, order.symbol),
        )
        self._apply(order, info)

    def _cancel(self, order: TradeOrder, note: str) -> None:
        self._follow(order)
        current = self.books.in_flight.get(order.client_id)
        if current is None or current.exchange_id is None:
            return
        try:
            answer = self.desk.cancel(current.symbol, current.exchange_id)
        except CryptoTraderError as exc:
            if isinstance(exc, TRANSIENT):
                raise
            # It filled or ended in the meantime: follow it once more.
            log.info("cancel of %s refused: %s", current.client_id, exc)
            self._follow(current)
            return
        self._apply(current, answer, note)
        still = self.books.in_flight.get(current.client_id)
        if still is not None:
            self.books.close(still, OrderState.CANCELLED, note, None)
        self.books.notify(f"{current.symbol} {current.side} order cancelled: {note}")

    def _apply(
        self, order: TradeOrder, info: dict[str, Any], why: str | None = None
    ) -> None:
        """Book what the exchange reports of `order`: new fills, then its state.

        `why` is our reason when the order ended because we cancelled it.
        """
        exchange_id = str(info.get("id")) if info.get("id") is not None else None
        if exchange_id and exchange_id != order.exchange_id:
            order = self.books.update(_with(order, exchange_id=exchange_id))
        filled = float(info.get("filled") or 0.0)
        if filled > order.filled:
            order = self._book_fill(order, info, filled)
        status = str(info.get("status") or "open")
        if status in _ENDED or status in ("rejected", "expired"):
            if order.state.in_flight:
                state = _ENDED.get(status, OrderState.REJECTED)
                note = why if why and state is OrderState.CANCELLED else None
                self.books.close(
                    order, state, note or f"the exchange says {status}", None
                )
            return
        if status == "open" and order.state is OrderState.NEW:
            self.books.update(_with(order, state=OrderState.OPEN))

    def _book_fill(
        self, order: TradeOrder, info: dict[str, Any], filled: float
    ) -> TradeOrder:
        amount = filled - order.filled
        average = float(info.get("average") or info.get("price") or order.price or 0.0)
        cost = float(info.get("cost") or filled * average)
        price = (cost - order.cost) / amount if amount > 0 else average
        in_quote, in_base = self._fees(order, info)
        kept = 0.0
        if order.side == "buy" and in_base > 0.0:
            # The exchange kept its fee out of what was bought (Binance does
            # unless paid otherwise): only the rest is ours to sell.
            already = order.filled - self.books.store.received(order.client_id)
            kept = min(max(in_base - already, 0.0), amount)
        fee = in_quote + in_base * average - order.fee
        sleeve = self.books.sleeves[order.symbol]
        # The newest candle seen: a fill learnt now belongs to no earlier one.
        candle = max(sleeve.last_time_ms or 0, order.candle_ms)
        if order.amount is None:
            order = _with(order, amount=filled)
        booked = self.books.fill(
            order,
            amount,
            price,
            max(fee, 0.0),
            candle,
            candle + self.timeframe_ms,
            kept=kept,
        )
        if str(info.get("status")) == "closed" and booked.state.in_flight:
            booked = self.books.update(_with(booked, state=OrderState.FILLED))
        self.books.log_fill(booked, amount, price)
        return booked

    def _fees(self, order: TradeOrder, info: dict[str, Any]) -> tuple[float, float]:
        """The order's fees so far, (in quote, in base); from its trades when the
        answer has none: an order looked up (Binance's GET order, for one) does not
        carry its commission, its trades do."""
        if info.get("fees") or info.get("fee"):
            return _fees(info, order.symbol)
        exchange_id = str(info.get("id") or order.exchange_id or "")
        if not exchange_id:
            return order.fee, 0.0
        trades = self.door.read(
            "fetch_order_trades",
            lambda c: c.fetch_order_trades(exchange_id, order.symbol),
        )
        parts = [_fees(trade, order.symbol) for trade in trades]
        return sum(q for q, _ in parts), sum(b for _, b in parts)

    def _reject(self, order: TradeOrder, exc: CryptoTraderError) -> None:
        reason = str(exc)
        self.books.close(order, OrderState.REJECTED, reason[:200], None)
        log.error("order %s rejected: %s", order.client_id, reason)
        self.books.audit.record_error(
            {
                "operation": "trade",
                "session": self.books.session_id,
                "exchange": self.books.exchange,
                "symbol": order.symbol,
                "client_order_id": order.client_id,
                "error": type(exc).__name__,
                "reason": reason[:200],
            }
        )
        self.books.notify(f"error: {order.symbol} {order.side} rejected: {reason}")


def _fees(info: dict[str, Any], symbol: str) -> tuple[float, float]:
    # Fees in a third currency (a discount token) cost neither side: not counted.
    base, quote = symbol.split("/")
    fees = info.get("fees") or ([info["fee"]] if info.get("fee") else [])
    in_quote = in_base = 0.0
    for fee in fees:
        if not fee:
            continue
        cost = float(fee.get("cost") or 0.0)
        currency = fee.get("currency")
        if currency in (None, quote):
            in_quote += cost
        elif currency == base:
            in_base += cost
    return in_quote, in_base


def _auth_reason(exc: Exception) -> str:
    return (
        f"the exchange refused the key ({type(exc).__name__}): {exc}; check the key "
        "with `crypto-trader keys check`"
    )


def _with(order: TradeOrder, **changes: Any) -> TradeOrder:
    from dataclasses import replace

    return replace(order, **changes)
