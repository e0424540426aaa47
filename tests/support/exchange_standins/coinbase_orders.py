"""Coinbase Advanced Trade order endpoints: create, batch cancel, get, list, fills.

An order Coinbase refuses for a business reason (precision, size, funds) comes back
as HTTP 200 with success false and an error_response, as the real API does.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from tests.support.exchange_standins.book import (
    InsufficientFundsError,
    MarketSpec,
    OrderRecord,
)
from tests.support.exchange_standins.coinbase_format import (
    coinbase_error,
    created_payload,
    fill_payloads,
    order_payload,
    product_id,
    rejected_payload,
)

if TYPE_CHECKING:
    from tests.support.exchange_standins.coinbase import Call, CoinbaseStandin

_STATUS_OF = {"OPEN": "open", "FILLED": "filled", "CANCELLED": "canceled"}


class _RejectedError(Exception):
    def __init__(self, error: str, message: str, preview_reason: str) -> None:
        super().__init__(error)
        self.details = (error, message, preview_reason)


def create_order(standin: CoinbaseStandin, call: Call) -> Any:
    """POST /orders; a client_order_id used before returns that order."""
    body = call.request.json()
    client_id = str(body.get("client_order_id") or "")
    if not client_id:
        raise coinbase_error(400, "INVALID_ARGUMENT", "client_order_id is required")
    existing = standin.ledger.by_client_id.get(client_id)
    if existing is not None:
        return created_payload(existing)
    try:
        order = _new_order(standin, body, client_id)
        standin.ledger.place(order, standin.now_ms())
    except _RejectedError as rejection:
        return rejected_payload(*rejection.details, body)
    except InsufficientFundsError:
        return rejected_payload(
            "INSUFFICIENT_FUND",
            "Insufficient balance in source account",
            "PREVIEW_INSUFFICIENT_FUND",
            body,
        )
    return created_payload(order)


def batch_cancel(standin: CoinbaseStandin, call: Call) -> Any:
    """POST /orders/batch_cancel: one result per order id."""
    results = []
    for order_id in call.request.json().get("order_ids", []):
        order = standin.ledger.orders.get(str(order_id))
        if order is None or order.status != "open":
            reason = "UNKNOWN_CANCEL_ORDER"
            results.append({"success": False, "failure_reason": reason})
        else:
            standin.ledger.cancel(order, standin.now_ms())
            reason = "UNKNOWN_CANCEL_FAILURE_REASON"
            results.append({"success": True, "failure_reason": reason})
        results[-1]["order_id"] = str(order_id)
    return {"results": results}


def get_order(standin: CoinbaseStandin, call: Call) -> Any:
    """GET /orders/historical/{order_id}."""
    order = standin.ledger.orders.get(call.path["order_id"])
    if order is None:
        message = "order with this orderID was not found"
        raise coinbase_error(404, "NOT_FOUND", message)
    return {"order": order_payload(order)}


def list_orders(standin: CoinbaseStandin, call: Call) -> Any:
    """GET /orders/historical/batch, newest first, with a cursor."""
    query = parse_qs(call.request.query)
    statuses = {_STATUS_OF[s] for s in query.get("order_status", []) if s in _STATUS_OF}
    products = set(query.get("product_id", []) + query.get("product_ids", []))
    orders = [
        o
        for o in sorted(
            standin.ledger.orders.values(), key=lambda o: o.created_ms, reverse=True
        )
        if (not statuses or o.status in statuses)
        and (not products or product_id(o.market) in products)
    ]
    offset = int(query.get("cursor", ["0"])[0] or 0)
    limit = int(query.get("limit", ["100"])[0])
    page = orders[offset : offset + limit]
    has_next = offset + limit < len(orders)
    return {
        "orders": [order_payload(o) for o in page],
        "sequence": "0",
        "has_next": has_next,
        "cursor": str(offset + limit) if has_next else "",
    }


def list_fills(standin: CoinbaseStandin, call: Call) -> Any:
    """GET /orders/historical/fills."""
    query = parse_qs(call.request.query)
    wanted = set(query.get("order_id", []) + query.get("order_ids", []))
    fills = [
        fill
        for order in standin.ledger.orders.values()
        if not wanted or order.order_id in wanted
        for fill in fill_payloads(order)
    ]
    return {"fills": fills, "cursor": ""}


def _new_order(
    standin: CoinbaseStandin, body: dict[str, Any], client_id: str
) -> OrderRecord:
    market = standin.markets.get(str(body.get("product_id")))
    if market is None:
        raise coinbase_error(400, "INVALID_ARGUMENT", "ProductID is invalid")
    side = str(body.get("side", "")).lower()
    if side not in ("buy", "sell"):
        raise coinbase_error(400, "INVALID_ARGUMENT", "side is invalid")
    configuration = body.get("order_configuration") or {}
    if "market_market_ioc" in configuration:
        kind, price = "market", None
        amount = _market_amount(market, configuration["market_market_ioc"])
    elif "limit_limit_gtc" in configuration or "limit_limit_gtd" in configuration:
        kind = "limit"
        terms = configuration.get("limit_limit_gtc") or configuration["limit_limit_gtd"]
        amount = _decimal(terms, "base_size")
        price = _decimal(terms, "limit_price")
    else:
        raise _RejectedError(
            "UNSUPPORTED_ORDER_CONFIGURATION",
            "order configuration not supported by the stand-in",
            "PREVIEW_UNSUPPORTED_ORDER_CONFIGURATION",
        )
    _check_precision(market, amount, price)
    order_id = str(uuid.uuid4())
    now = standin.now_ms()
    return OrderRecord(order_id, client_id, market, side, kind, amount, price, now)


def _market_amount(market: MarketSpec, terms: dict[str, Any]) -> Decimal:
    if "base_size" in terms:
        return _decimal(terms, "base_size")
    spend = _decimal(terms, "quote_size")
    return (
        (spend / market.last_price)
        // market.amount_increment
        * (market.amount_increment)
    )


def _decimal(terms: dict[str, Any], name: str) -> Decimal:
    try:
        value = Decimal(str(terms[name]))
    except (KeyError, InvalidOperation):
        raise coinbase_error(400, "INVALID_ARGUMENT", f"{name} is invalid") from None
    if value <= 0:
        raise coinbase_error(400, "INVALID_ARGUMENT", f"{name} is invalid")
    return value


def _check_precision(
    market: MarketSpec, amount: Decimal, price: Decimal | None
) -> None:
    if amount % market.amount_increment:
        raise _RejectedError(
            "INVALID_SIZE_PRECISION",
            "Too many decimals in order amount",
            "PREVIEW_INVALID_SIZE_PRECISION",
        )
    if price is not None and price % market.price_increment:
        raise _RejectedError(
            "INVALID_LIMIT_PRICE_PRECISION",
            "Too many decimals in order price",
            "PREVIEW_INVALID_LIMIT_PRICE_PRECISION",
        )
    if amount < market.min_amount:
        raise _RejectedError(
            "INVALID_BASE_SIZE_TOO_SMALL",
            "Order size is too small",
            "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL",
        )
    if amount * (price or market.last_price) < market.min_cost:
        raise _RejectedError(
            "INVALID_QUOTE_SIZE_TOO_SMALL",
            "Order value is too small",
            "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
        )


def _endpoint(
    method: str, path: str, handler: Any, access: str
) -> tuple[str, str, Any, str]:
    return method, path, handler, access


ENDPOINTS = (
    _endpoint("POST", "/api/v3/brokerage/orders", create_order, "trade"),
    _endpoint("POST", "/api/v3/brokerage/orders/batch_cancel", batch_cancel, "trade"),
    _endpoint("GET", "/api/v3/brokerage/orders/historical/batch", list_orders, "view"),
    _endpoint("GET", "/api/v3/brokerage/orders/historical/fills", list_fills, "view"),
    _endpoint(
        "GET", "/api/v3/brokerage/orders/historical/{order_id}", get_order, "view"
    ),
)
