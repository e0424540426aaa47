"""Coinbase's wire formats: products, currencies, accounts, candles, orders, errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.support.exchange_standins.book import Ledger, MarketSpec, OrderRecord
from tests.support.exchange_standins.messages import ApiError, Reply

GRANULARITY_S = {
    "ONE_MINUTE": 60,
    "FIVE_MINUTE": 300,
    "FIFTEEN_MINUTE": 900,
    "THIRTY_MINUTE": 1800,
    "ONE_HOUR": 3600,
    "TWO_HOUR": 7200,
    "FOUR_HOUR": 14400,
    "SIX_HOUR": 21600,
    "ONE_DAY": 86400,
}
TIMEFRAME_OF = {
    "ONE_MINUTE": "1m",
    "FIVE_MINUTE": "5m",
    "FIFTEEN_MINUTE": "15m",
    "THIRTY_MINUTE": "30m",
    "ONE_HOUR": "1h",
    "TWO_HOUR": "2h",
    "FOUR_HOUR": "4h",
    "SIX_HOUR": "6h",
    "ONE_DAY": "1d",
}
_STATUS = {"open": "OPEN", "filled": "FILLED", "canceled": "CANCELLED"}
_FIAT = ("USD", "EUR", "GBP")


def coinbase_error(status: int, error: str, message: str) -> ApiError:
    """An Advanced Trade error body: {"error", "error_details", "message"}."""
    payload = {"error": error, "error_details": message, "message": message}
    return ApiError(Reply.json(status, payload))


def product_id(market: MarketSpec) -> str:
    """Coinbase's product id, e.g. BTC-USD."""
    return f"{market.base}-{market.quote}"


def iso(timestamp_ms: int) -> str:
    """A UTC timestamp as Coinbase writes it (RFC 3339, microseconds)."""
    moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def product(market: MarketSpec) -> dict[str, Any]:
    """One entry of GET /api/v3/brokerage/market/products."""
    return {
        "product_id": product_id(market),
        "price": str(market.last_price),
        "price_percentage_change_24h": "0",
        "volume_24h": "0",
        "volume_percentage_change_24h": "0",
        "base_increment": str(market.amount_increment),
        "quote_increment": str(market.price_increment),
        "quote_min_size": str(market.min_cost),
        "quote_max_size": "150000000",
        "base_min_size": str(market.min_amount),
        "base_max_size": str(market.max_amount),
        "base_name": market.base,
        "quote_name": market.quote,
        "watched": False,
        "is_disabled": False,
        "new": False,
        "status": "online",
        "cancel_only": False,
        "limit_only": False,
        "post_only": False,
        "trading_disabled": False,
        "auction_mode": False,
        "product_type": "SPOT",
        "quote_currency_id": market.quote,
        "base_currency_id": market.base,
        "fcm_trading_session_details": None,
        "mid_market_price": "",
        "alias": "",
        "alias_to": [],
        "base_display_symbol": market.base,
        "quote_display_symbol": market.quote,
        "view_only": False,
        "price_increment": str(market.price_increment),
        "display_name": product_id(market),
        "product_venue": "CBE",
    }


def currencies(assets: list[str], fiat: bool) -> dict[str, Any]:
    """GET /v2/currencies (fiat) or /v2/currencies/crypto."""
    if fiat:
        data = [
            {"id": code, "name": code, "min_size": "0.01"}
            for code in assets
            if code in _FIAT
        ]
        return {"data": data}
    crypto: list[dict[str, Any]] = [
        {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, code)),
            "code": code,
            "name": code,
            "color": "#000000",
            "sort_index": 100,
            "exponent": 8,
            "type": "crypto",
            "address_regex": ".*",
        }
        for code in assets
        if code not in _FIAT
    ]
    return {"data": crypto}


def v2_accounts(ledger: Ledger, now_ms: int) -> dict[str, Any]:
    """GET /v2/accounts: wallet balances, holds included in the amount."""
    data = [
        {
            "id": _account_uuid(asset),
            "name": f"{asset} Wallet",
            "primary": True,
            "type": "fiat" if asset in _FIAT else "wallet",
            "currency": {"code": asset, "name": asset, "exponent": 8},
            "balance": {"amount": str(_total(ledger, asset)), "currency": asset},
            "created_at": iso(now_ms),
            "updated_at": iso(now_ms),
            "resource": "account",
            "resource_path": f"/v2/accounts/{_account_uuid(asset)}",
            "allow_deposits": True,
            "allow_withdrawals": True,
        }
        for asset in ledger.assets()
    ]
    pagination = {
        "ending_before": None,
        "starting_after": None,
        "limit": 250,
        "order": "desc",
        "previous_uri": None,
        "next_uri": None,
        "next_starting_after": None,
    }
    return {"pagination": pagination, "data": data}


def v3_accounts(ledger: Ledger, now_ms: int) -> dict[str, Any]:
    """GET /api/v3/brokerage/accounts: available balance and hold."""
    accounts = [
        {
            "uuid": _account_uuid(asset),
            "name": f"{asset} Wallet",
            "currency": asset,
            "available_balance": {
                "value": str(ledger.free.get(asset, Decimal(0))),
                "currency": asset,
            },
            "default": True,
            "active": True,
            "created_at": iso(now_ms),
            "updated_at": iso(now_ms),
            "deleted_at": None,
            "type": "ACCOUNT_TYPE_FIAT" if asset in _FIAT else "ACCOUNT_TYPE_CRYPTO",
            "ready": True,
            "hold": {
                "value": str(ledger.locked.get(asset, Decimal(0))),
                "currency": asset,
            },
            "retail_portfolio_id": "5f3b2b8c-9d6e-4c1f-8a2e-2f1c9b7d4e10",
        }
        for asset in ledger.assets()
    ]
    return {
        "accounts": accounts,
        "has_next": False,
        "cursor": "",
        "size": len(accounts),
    }


def candle(row: Any) -> dict[str, str]:
    """One candle of the candles endpoint (start in epoch seconds)."""
    open_ms, open_, high, low, close, volume = row
    return {
        "start": str(open_ms // 1000),
        "low": f"{low}",
        "high": f"{high}",
        "open": f"{open_}",
        "close": f"{close}",
        "volume": f"{volume}",
    }


def order_configuration(order: OrderRecord) -> dict[str, Any]:
    """The order_configuration object that describes an order."""
    if order.type == "market":
        return {"market_market_ioc": {"base_size": str(order.amount)}}
    return {
        "limit_limit_gtc": {
            "base_size": str(order.amount),
            "limit_price": str(order.price),
            "post_only": False,
        }
    }


def order_payload(order: OrderRecord) -> dict[str, Any]:
    """An order as GET /orders/historical/{id} and /orders/historical/batch show it."""
    average = order.cost / order.filled if order.filled else Decimal(0)
    return {
        "order_id": order.order_id,
        "product_id": product_id(order.market),
        "user_id": "3a7c9e1f-0b2d-4f6a-8c1e-5d9b7a3f2e10",
        "order_configuration": order_configuration(order),
        "side": order.side.upper(),
        "client_order_id": order.client_order_id,
        "status": _STATUS[order.status],
        "time_in_force": "IMMEDIATE_OR_CANCEL"
        if order.type == "market"
        else "GOOD_UNTIL_CANCELLED",
        "created_time": iso(order.created_ms),
        "completion_percentage": f"{100 * order.filled / order.amount:.2f}",
        "filled_size": str(order.filled),
        "average_filled_price": str(average),
        "number_of_fills": str(len(order.fills)),
        "filled_value": str(order.cost),
        "pending_cancel": False,
        "size_in_quote": False,
        "total_fees": str(order.fee),
        "size_inclusive_of_fees": False,
        "total_value_after_fees": str(order.cost + order.fee),
        "trigger_status": "INVALID_ORDER_TYPE",
        "order_type": order.type.upper(),
        "reject_reason": "REJECT_REASON_UNSPECIFIED",
        "settled": order.status != "open",
        "product_type": "SPOT",
        "reject_message": "",
        "cancel_message": "User requested cancel" if order.status == "canceled" else "",
        "order_placement_source": "RETAIL_ADVANCED",
        "outstanding_hold_amount": "0",
        "is_liquidation": False,
        "last_fill_time": iso(order.fills[-1].timestamp_ms) if order.fills else None,
        "edit_history": [],
        "leverage": "",
        "margin_type": "UNKNOWN_MARGIN_TYPE",
        "retail_portfolio_id": "5f3b2b8c-9d6e-4c1f-8a2e-2f1c9b7d4e10",
    }


def created_payload(order: OrderRecord) -> dict[str, Any]:
    """The success answer to POST /orders."""
    return {
        "success": True,
        "success_response": {
            "order_id": order.order_id,
            "product_id": product_id(order.market),
            "side": order.side.upper(),
            "client_order_id": order.client_order_id,
        },
        "order_configuration": order_configuration(order),
    }


def rejected_payload(
    error: str, message: str, preview_reason: str, request: dict[str, Any]
) -> dict[str, Any]:
    """An order Coinbase refused: HTTP 200 with success false and error_response."""
    return {
        "success": False,
        "failure_reason": "UNKNOWN_FAILURE_REASON",
        "order_id": "",
        "error_response": {
            "error": error,
            "message": message,
            "error_details": "",
            "preview_failure_reason": preview_reason,
            "new_order_failure_reason": error,
        },
        "order_configuration": request.get("order_configuration", {}),
    }


def fill_payloads(order: OrderRecord) -> list[dict[str, Any]]:
    """The fills of an order as /orders/historical/fills lists them."""
    return [
        {
            "entry_id": f"entry-{fill.trade_id}",
            "trade_id": str(fill.trade_id),
            "order_id": order.order_id,
            "trade_time": iso(fill.timestamp_ms),
            "trade_type": "FILL",
            "price": str(fill.price),
            "size": str(fill.amount),
            "commission": str(fill.fee),
            "product_id": product_id(order.market),
            "sequence_timestamp": iso(fill.timestamp_ms),
            "liquidity_indicator": "TAKER",
            "size_in_quote": False,
            "user_id": "3a7c9e1f-0b2d-4f6a-8c1e-5d9b7a3f2e10",
            "side": order.side.upper(),
            "retail_portfolio_id": "5f3b2b8c-9d6e-4c1f-8a2e-2f1c9b7d4e10",
        }
        for fill in order.fills
    ]


def _total(ledger: Ledger, asset: str) -> Decimal:
    return ledger.free.get(asset, Decimal(0)) + ledger.locked.get(asset, Decimal(0))


def _account_uuid(asset: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{asset}.accounts.standin"))
