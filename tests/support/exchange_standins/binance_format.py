"""Binance's wire formats: errors, exchangeInfo markets and orders."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.support.exchange_standins.book import MarketSpec, OrderRecord
from tests.support.exchange_standins.messages import ApiError, Reply

_STATUS = {"open": "NEW", "filled": "FILLED", "canceled": "CANCELED"}


def binance_error(
    status: int, code: int, message: str, headers: tuple[tuple[str, str], ...] = ()
) -> ApiError:
    """An error answer in Binance's {"code": -NNNN, "msg": "..."} format."""
    return ApiError(Reply.json(status, {"code": code, "msg": message}, headers))


def require(params: dict[str, str], name: str) -> str:
    """A mandatory parameter, or Binance's -1102 error naming it."""
    value = params.get(name, "")
    if value == "":
        raise binance_error(
            400,
            -1102,
            f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
        )
    return value


def market_id(market: MarketSpec) -> str:
    """Binance's symbol id, e.g. BTCUSDT."""
    return f"{market.base}{market.quote}"


def decimal_text(value: Decimal | None) -> str:
    """A decimal as Binance writes it, with 8 places."""
    return f"{value if value is not None else Decimal(0):.8f}"


def exchange_info(markets: list[MarketSpec], now_ms: int) -> dict[str, Any]:
    """The GET /api/v3/exchangeInfo answer for these markets."""
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 6000,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": 100,
            },
        ],
        "exchangeFilters": [],
        "symbols": [_symbol(market) for market in markets],
    }


def _symbol(market: MarketSpec) -> dict[str, Any]:
    return {
        "symbol": market_id(market),
        "status": "TRADING",
        "baseAsset": market.base,
        "baseAssetPrecision": 8,
        "quoteAsset": market.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": decimal_text(market.price_increment),
                "maxPrice": "1000000.00000000",
                "tickSize": decimal_text(market.price_increment),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": decimal_text(market.min_amount),
                "maxQty": decimal_text(market.max_amount),
                "stepSize": decimal_text(market.amount_increment),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": decimal_text(market.min_cost),
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER"],
    }


def order_payload(order: OrderRecord) -> dict[str, Any]:
    """An order as GET /api/v3/order and openOrders/allOrders show it."""
    return {
        "symbol": market_id(order.market),
        "orderId": int(order.order_id),
        "orderListId": -1,
        "clientOrderId": order.client_order_id,
        "price": decimal_text(order.price),
        "origQty": decimal_text(order.amount),
        "executedQty": decimal_text(order.filled),
        "cummulativeQuoteQty": decimal_text(order.cost),
        "status": _STATUS[order.status],
        "timeInForce": "GTC",
        "type": order.type.upper(),
        "side": order.side.upper(),
        "stopPrice": "0.00000000",
        "icebergQty": "0.00000000",
        "time": order.created_ms,
        "updateTime": order.updated_ms or order.created_ms,
        "isWorking": True,
        "workingTime": order.created_ms,
        "origQuoteOrderQty": "0.00000000",
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def new_order_payload(order: OrderRecord) -> dict[str, Any]:
    """The FULL answer to POST /api/v3/order."""
    payload = order_payload(order)
    for name in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking"):
        del payload[name]
    payload["transactTime"] = order.created_ms
    payload["fills"] = [
        {
            "price": decimal_text(fill.price),
            "qty": decimal_text(fill.amount),
            "commission": decimal_text(fill.fee),
            "commissionAsset": fill.fee_asset or order.market.quote,
            "tradeId": fill.trade_id,
        }
        for fill in order.fills
    ]
    return payload


def trade_payloads(order: OrderRecord) -> list[dict[str, Any]]:
    """The fills of an order as GET /api/v3/myTrades lists them."""
    return [
        {
            "symbol": market_id(order.market),
            "id": fill.trade_id,
            "orderId": int(order.order_id),
            "orderListId": -1,
            "price": decimal_text(fill.price),
            "qty": decimal_text(fill.amount),
            "quoteQty": decimal_text(fill.price * fill.amount),
            "commission": decimal_text(fill.fee),
            "commissionAsset": fill.fee_asset or order.market.quote,
            "time": fill.timestamp_ms,
            "isBuyer": order.side == "buy",
            "isMaker": order.type == "limit",
            "isBestMatch": True,
        }
        for fill in order.fills
    ]
