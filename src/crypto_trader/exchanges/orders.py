"""Manual orders through the door: checked against the market, never sent twice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from crypto_trader.audit.audit_log import AuditLog
from crypto_trader.audit.events import EventType
from crypto_trader.errors import (
    ExchangeNetworkError,
    ExchangeUnavailableError,
    InputError,
    InvalidOrderError,
    OrderOutcomeUnknownError,
)
from crypto_trader.exchanges.door import ExchangeDoor
from crypto_trader.exchanges.request_policy import RequestKind

_DECIMAL_PLACES = 2  # ccxt.DECIMAL_PLACES, without importing ccxt at start-up


class Side(StrEnum):
    """Buy or sell."""

    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    """Limit or market."""

    LIMIT = "limit"
    MARKET = "market"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What the user asked for, in decimals."""

    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None = None

    def audit_details(self, exchange_id: str, client_order_id: str) -> dict[str, Any]:
        """The fields every TRADING_OPERATION record carries."""
        return {
            "exchange": exchange_id,
            "symbol": self.symbol,
            "side": self.side.value,
            "type": self.type.value,
            "amount": str(self.amount),
            "price": None if self.price is None else str(self.price),
            "client_order_id": client_order_id,
        }


def parse_decimal(text: str, option: str) -> Decimal:
    """A positive finite decimal from the command line."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InputError(
            f"{option}: expected a decimal number, got {text[:30]!r}"
        ) from None
    if not value.is_finite() or value <= 0:
        raise InputError(f"{option}: expected a positive number, got {text[:30]!r}")
    return value


def new_client_order_id(exchange_id: str) -> str:
    """Our own id for an order, in a form the exchange accepts."""
    if exchange_id.startswith("kraken"):
        return str(uuid.uuid4())
    return f"ct-{uuid.uuid4().hex[:24]}"


def client_id_params(exchange_id: str, client_id: str) -> dict[str, str]:
    """The parameter that carries our id: ccxt drops `clientOrderId` for Coinbase."""
    if exchange_id == "coinbase":
        return {"client_order_id": client_id}
    return {"clientOrderId": client_id}


def check_against_market(market: dict[str, Any], order: OrderRequest) -> None:
    """Refuse an order the market's precision or limits would reject."""
    if order.type is OrderType.LIMIT and order.price is None:
        raise InputError("--price is required for a limit order")
    if order.type is OrderType.MARKET and order.price is not None:
        raise InputError("--price is only for limit orders; leave it out")
    _check_step(order.amount, market["precision"].get("amount"), "--amount", order)
    if order.price is not None:
        _check_step(order.price, market["precision"].get("price"), "--price", order)
    limits = market.get("limits") or {}
    min_amount = (limits.get("amount") or {}).get("min")
    if min_amount is not None and order.amount < Decimal(str(min_amount)):
        raise InvalidOrderError(
            f"--amount {order.amount} is below {order.symbol}'s minimum of "
            f"{Decimal(str(min_amount)).normalize()}"
        )
    min_cost = (limits.get("cost") or {}).get("min")
    if min_cost is not None and order.price is not None:
        cost = order.amount * order.price
        if cost < Decimal(str(min_cost)):
            raise InvalidOrderError(
                f"the order's value {cost.normalize()} is below {order.symbol}'s "
                f"minimum of {Decimal(str(min_cost)).normalize()}; raise --amount"
            )


def _check_step(value: Decimal, step: object, option: str, order: OrderRequest) -> None:
    tick = tick_size(step)
    if tick is None or value % tick == 0:
        return
    allowed = (value // tick) * tick
    raise InputError(
        f"{option} {value} is finer than {order.symbol} allows "
        f"(step {tick.normalize()}); use {allowed.normalize()}"
    )


def tick_size(step: object) -> Decimal | None:
    """The smallest increment a precision value allows (ccxt's TICK_SIZE mode)."""
    if step is None:
        return None
    tick = Decimal(str(step))
    return tick if tick > 0 else None


class OrderDesk:
    """Places, cancels and lists orders through one door, each one audited."""

    def __init__(self, door: ExchangeDoor, audit: AuditLog) -> None:
        self._door = door
        self._audit = audit

    def market(self, symbol: str) -> dict[str, Any]:
        """The market's rules, from the exchange."""
        markets = self._door.read("load_markets", lambda c: c.load_markets())
        if symbol not in markets:
            raise InputError(
                f"{self._door.exchange_id} has no market {symbol[:30]!r}; "
                "use BASE/QUOTE as the exchange lists it, such as BTC/USDT"
            )
        market: dict[str, Any] = dict(markets[symbol])
        if self._door.client.precisionMode == _DECIMAL_PLACES:
            market["precision"] = {
                name: None if digits is None else Decimal(1).scaleb(-int(digits))
                for name, digits in (market.get("precision") or {}).items()
            }
        return market

    def place(
        self, order: OrderRequest, client_id: str | None = None
    ) -> dict[str, Any]:
        """Send an order once; an unanswered one is looked up by our id, not re-sent.

        `client_id` is the id the caller stored the order under, if it did.
        """
        self._door.check(RequestKind.TRADE, "create_order")
        check_against_market(self.market(order.symbol), order)
        client_id = client_id or new_client_order_id(self._door.exchange_id)
        details = order.audit_details(self._door.exchange_id, client_id)
        self._audit.record(
            EventType.TRADING_OPERATION, details | {"action": "submitted"}
        )
        try:
            placed = self._door.trade(
                "create_order",
                lambda c: c.create_order(
                    order.symbol,
                    order.type.value,
                    order.side.value,
                    float(order.amount),
                    None if order.price is None else float(order.price),
                    client_id_params(self._door.exchange_id, client_id),
                ),
            )
        except (ExchangeNetworkError, ExchangeUnavailableError) as exc:
            # No answer, or a server error: the order may or may not exist. Look it
            # up by our id; never send it again.
            placed = self._settle_unknown(order.symbol, client_id, exc)
        result: dict[str, Any] = placed
        self._audit.record(
            EventType.TRADING_OPERATION,
            details
            | {
                "action": "placed",
                "order_id": result.get("id"),
                "status": result.get("status"),
            },
        )
        return result

    def _settle_unknown(
        self, symbol: str, client_id: str, cause: Exception
    ) -> dict[str, Any]:
        found = self.find_by_client_id(symbol, client_id)
        if found is None:
            raise OrderOutcomeUnknownError(
                f"the order got no answer and the exchange has no order {client_id}: "
                "it was not placed. Nothing was re-sent; run the command again"
            ) from cause
        return found

    def find_by_client_id(self, symbol: str, client_id: str) -> dict[str, Any] | None:
        """Look an order up by our client order id, among open and recent orders."""
        door = self._door
        if door.exchange_id.startswith("binance"):
            try:
                return door.read(  # type: ignore[no-any-return]
                    "fetch_order",
                    lambda c: c.fetch_order(None, symbol, {"clientOrderId": client_id}),
                )
            except InvalidOrderError:  # OrderNotFound
                return None
        params = {"clientOrderId": client_id} if door.exchange_id == "kraken" else {}
        candidates = door.read(
            "fetch_open_orders",
            lambda c: c.fetch_open_orders(symbol, None, None, params),
        )
        if door.exchange_id != "kraken" and door.client.has.get("fetchClosedOrders"):
            candidates += door.read(
                "fetch_closed_orders", lambda c: c.fetch_closed_orders(symbol)
            )
        return next(
            (o for o in candidates if str(o.get("clientOrderId")) == client_id), None
        )

    def cancel(self, symbol: str, order_id: str) -> dict[str, Any]:
        """Cancel by the exchange's id or ours."""
        self._door.check(RequestKind.TRADE, "cancel_order")
        exchange_id = order_id
        client_id = None
        if order_id.startswith("ct-") or _looks_like_uuid(order_id):
            found = self.find_by_client_id(symbol, order_id)
            if found is None:
                raise InputError(f"no order with client order id {order_id[:40]!r}")
            exchange_id, client_id = str(found["id"]), order_id
        cancelled: dict[str, Any] = self._door.trade(
            "cancel_order", lambda c: c.cancel_order(exchange_id, symbol)
        )
        # Binance answers a cancel with the cancel request's own clientOrderId and
        # the order's in origClientOrderId.
        info = cancelled.get("info") or {}
        client_id = client_id or info.get("origClientOrderId")
        self._audit.record(
            EventType.TRADING_OPERATION,
            {
                "action": "cancelled",
                "exchange": self._door.exchange_id,
                "symbol": symbol,
                "order_id": exchange_id,
                "client_order_id": client_id or cancelled.get("clientOrderId"),
                "side": cancelled.get("side"),
                "type": cancelled.get("type"),
                "amount": cancelled.get("amount"),
                "price": cancelled.get("price"),
            },
        )
        return cancelled

    def open_orders(self, symbol: str | None) -> list[dict[str, Any]]:
        """Open orders, for one symbol or all."""
        orders: list[dict[str, Any]] = self._door.read(
            "fetch_open_orders", lambda c: c.fetch_open_orders(symbol)
        )
        return orders


def _looks_like_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
