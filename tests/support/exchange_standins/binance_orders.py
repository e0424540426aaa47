"""Binance spot order endpoints: place, test, query, cancel and list orders and fills.

Checks follow Binance: mandatory parameters (-1102), the client order id's legal
characters (-1100), the LOT_SIZE, PRICE_FILTER and NOTIONAL filters (-1013), a
client order id already used by an open order and a short balance (-2010), unknown
orders (-2013 on query, -2011 on cancel).
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from tests.support.exchange_standins.binance_format import (
    binance_error,
    new_order_payload,
    order_payload,
    require,
    trade_payloads,
)
from tests.support.exchange_standins.book import (
    InsufficientFundsError,
    MarketSpec,
    OrderRecord,
)
from tests.support.exchange_standins.messages import RecordedRequest

if TYPE_CHECKING:
    from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin

_CLIENT_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
_LIST_MAX = 1000


def place_order(
    standin: BinanceStandin, request: RecordedRequest, key: BinanceKey | None
) -> Any:
    """POST /api/v3/order: place an order (FULL answer)."""
    order = _new_order(standin, request.params)
    try:
        standin.ledger.place(order, standin.now_ms())
    except InsufficientFundsError:
        raise binance_error(
            400, -2010, "Account has insufficient balance for requested action."
        ) from None
    standin.next_order_id += 1
    return new_order_payload(order)


def check_order(
    standin: BinanceStandin, request: RecordedRequest, key: BinanceKey | None
) -> Any:
    """POST /api/v3/order/test: validate an order without placing it."""
    _new_order(standin, request.params)
    return {}


def query_order(
    standin: BinanceStandin, request: RecordedRequest, key: BinanceKey | None
) -> Any:
    """GET /api/v3/order by orderId or origClientOrderId."""
    order = _find(standin, request.params)
    if order is None:
        raise binance_error(400, -2013, "Order does not exist.")
    return order_payload(order)


def cancel_order(
    standin: BinanceStandin, request: RecordedRequest, key: BinanceKey | None
) -> Any:
    """DELETE /api/v3/order by orderId or origClientOrderId."""
    params = request.params
    order = _find(standin, params)
    if order is None or order.status != "open":
        raise binance_error(400, -2011, "Unknown order sent.")
    standin.ledger.cancel(order, standin.now_ms())
    payload = order_payload(order)
    payload["origClientOrderId"] = order.client_order_id
    payload["clientOrderId"] = params.get("newClientOrderId") or _random_client_id()
    payload["transactTime"] = order.updated_ms
    return payload


def open_orders(
    standin: BinanceStandin, request: RecordedRequest, key: BinanceKey | None
) -> Any:
    """GET /api/v3/openOrders, for one symbol or all."""
    symbol = request.params.get("symbol")
    market = _market(standin, symbol) if symbol else None
    orders = standin.ledger.orders.values()
    return [
        order_payload(o)
        for o in orders
        if o.status == "open" and market in (None, o.market)
    ]


def all_orders(
    standin: BinanceStandin, request: RecordedRequest, key: BinanceKey | None
) -> Any:
    """GET /api/v3/allOrders for one symbol."""
    params = request.params
    market = _market(standin, require(params, "symbol"))
    chosen = [o for o in _window(standin, params) if o.market == market]
    return [order_payload(o) for o in chosen[: _limit(params)]]


def my_trades(
    standin: BinanceStandin, request: RecordedRequest, key: BinanceKey | None
) -> Any:
    """GET /api/v3/myTrades for one symbol."""
    params = request.params
    market = _market(standin, require(params, "symbol"))
    wanted = params.get("orderId")
    trades = [
        trade
        for order in _window(standin, params)
        if order.market == market and wanted in (None, order.order_id)
        for trade in trade_payloads(order)
    ]
    return trades[: _limit(params)]


def _new_order(standin: BinanceStandin, params: dict[str, str]) -> OrderRecord:
    market = _market(standin, require(params, "symbol"))
    side = require(params, "side").lower()
    kind = require(params, "type").lower()
    if kind not in ("limit", "market") or side not in ("buy", "sell"):
        raise binance_error(400, -1116, "Invalid orderType.")
    client_id = params.get("newClientOrderId") or _random_client_id()
    if not _CLIENT_ID.fullmatch(client_id):
        raise binance_error(
            400,
            -1100,
            "Illegal characters found in parameter 'newClientOrderId'; legal "
            "range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
        )
    price = _price(params, market) if kind == "limit" else None
    amount = _amount(params, market)
    _check_filters(market, amount, price or market.last_price)
    existing = standin.ledger.by_client_id.get(client_id)
    if existing is not None and existing.status == "open":
        raise binance_error(400, -2010, "Duplicate order sent.")
    now = standin.now_ms()
    order_id = str(standin.next_order_id)
    return OrderRecord(order_id, client_id, market, side, kind, amount, price, now)


def _price(params: dict[str, str], market: MarketSpec) -> Decimal:
    require(params, "timeInForce")
    return _decimal(params, "price")


def _amount(params: dict[str, str], market: MarketSpec) -> Decimal:
    if "quoteOrderQty" in params and params.get("type") == "MARKET":
        spend = _decimal(params, "quoteOrderQty")
        steps = (spend / market.last_price) // market.amount_increment
        return steps * market.amount_increment
    return _decimal(params, "quantity")


def _decimal(params: dict[str, str], name: str) -> Decimal:
    try:
        value = Decimal(require(params, name))
    except InvalidOperation:
        raise binance_error(
            400, -1100, f"Illegal characters found in parameter '{name}'."
        ) from None
    if value <= 0:
        raise binance_error(400, -1013, "Invalid quantity.")
    return value


def _check_filters(market: MarketSpec, amount: Decimal, price: Decimal) -> None:
    off_step = (amount - market.min_amount) % market.amount_increment != 0
    if amount < market.min_amount or amount > market.max_amount or off_step:
        raise binance_error(400, -1013, "Filter failure: LOT_SIZE")
    if price % market.price_increment != 0:
        raise binance_error(400, -1013, "Filter failure: PRICE_FILTER")
    if amount * price < market.min_cost:
        raise binance_error(400, -1013, "Filter failure: NOTIONAL")


def _market(standin: BinanceStandin, symbol: str | None) -> MarketSpec:
    market = standin.markets.get(symbol or "")
    if market is None:
        raise binance_error(400, -1121, "Invalid symbol.")
    return market


def _find(standin: BinanceStandin, params: dict[str, str]) -> OrderRecord | None:
    market = _market(standin, require(params, "symbol"))
    if params.get("orderId"):
        order = standin.ledger.orders.get(params["orderId"])
    elif params.get("origClientOrderId"):
        order = standin.ledger.by_client_id.get(params["origClientOrderId"])
    else:
        raise binance_error(
            400,
            -1102,
            "Param 'origClientOrderId' or 'orderId' must be sent, but both were "
            "empty/null!",
        )
    return order if order is not None and order.market == market else None


def _window(standin: BinanceStandin, params: dict[str, str]) -> list[OrderRecord]:
    start = int(params.get("startTime", "0"))
    end = int(params.get("endTime", str(2**62)))
    first_id = int(params.get("orderId", "0"))
    return [
        o
        for o in standin.ledger.orders.values()
        if start <= o.created_ms <= end and int(o.order_id) >= first_id
    ]


def _limit(params: dict[str, str]) -> int:
    limit = int(params.get("limit", "500"))
    if not 1 <= limit <= _LIST_MAX:
        raise binance_error(400, -1130, "Data sent for parameter 'limit' is not valid.")
    return limit


def _random_client_id() -> str:
    return secrets.token_urlsafe(16)[:22].replace("-", "x").replace("_", "y")


ENDPOINTS: dict[tuple[str, str], tuple[Any, bool]] = {
    ("POST", "/api/v3/order"): (place_order, True),
    ("POST", "/api/v3/order/test"): (check_order, True),
    ("GET", "/api/v3/order"): (query_order, False),
    ("DELETE", "/api/v3/order"): (cancel_order, True),
    ("GET", "/api/v3/openOrders"): (open_orders, False),
    ("GET", "/api/v3/allOrders"): (all_orders, False),
    ("GET", "/api/v3/myTrades"): (my_trades, False),
}
