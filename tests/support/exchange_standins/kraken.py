"""A Kraken spot stand-in that authenticates and answers like api.kraken.com.

Private calls are POSTs with a form body holding an increasing `nonce`, signed in
the API-Sign header: base64(HMAC-SHA512(base64-decoded secret, URI path +
SHA256(nonce + body))). Errors come back as HTTP 200 with {"error": ["EAPI:..."]},
as Kraken answers. Only the last 720 candles up to the stand-in's clock are served,
as Kraken's OHLC endpoint does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.support.exchange_standins.book import (
    DEFAULT_MARKETS,
    TIMEFRAME_MS,
    CandleSeries,
    InsufficientFundsError,
    Ledger,
    MarketSpec,
    OrderRecord,
)
from tests.support.exchange_standins.messages import ApiError, RecordedRequest, Reply
from tests.support.exchange_standins.server import Clock, Standin
from tests.support.exchange_standins.tls import KRAKEN_HOSTS, ServerIdentity

ASSET_IDS = {"BTC": "XXBT", "ETH": "XETH", "USD": "ZUSD"}
_ALT_NAMES = {"BTC": "XBT", "ETH": "ETH", "USD": "USD"}
_OHLC_WINDOW = 720
_MARKETS = tuple(
    MarketSpec(
        m.base,
        "USD",
        Decimal("0.1"),
        Decimal("0.00000001"),
        Decimal("0.0001"),
        m.max_amount,
        Decimal("0.5"),
        m.last_price,
    )
    for m in DEFAULT_MARKETS
    if m.quote == "USDT"
)


@dataclass(frozen=True, slots=True)
class KrakenKey:
    """A Kraken API key with the rights set when it was created."""

    api_key: str
    secret: str  # base64, as Kraken hands it out
    can_query: bool = True
    can_trade: bool = False

    @classmethod
    def generate(cls, can_query: bool = True, can_trade: bool = False) -> KrakenKey:
        """A fresh random key with a base64 secret, like Kraken's."""
        secret = base64.b64encode(secrets.token_bytes(64)).decode()
        return cls(secrets.token_urlsafe(42)[:56], secret, can_query, can_trade)


def kraken_error(message: str, status: int = 200) -> ApiError:
    """An error answer in Kraken's {"error": ["E..."]} format."""
    return ApiError(Reply.json(status, {"error": [message]}))


def pair_id(market: MarketSpec) -> str:
    """Kraken's pair id, e.g. XXBTZUSD."""
    return ASSET_IDS[market.base] + ASSET_IDS[market.quote]


def alt_name(market: MarketSpec) -> str:
    """Kraken's alternative pair name, e.g. XBTUSD."""
    return _ALT_NAMES[market.base] + _ALT_NAMES[market.quote]


Handler = Callable[["KrakenStandin", RecordedRequest, dict[str, str]], Any]


class KrakenStandin(Standin):
    """Kraken spot: assets, pairs, OHLC, balances and orders."""

    hosts = KRAKEN_HOSTS

    def __init__(self, identity: ServerIdentity, clock: Clock = time.time) -> None:
        self.markets: dict[str, MarketSpec] = {}
        self.keys: dict[str, KrakenKey] = {}
        self.last_nonce: dict[str, int] = {}
        self.ledger = Ledger(fee_rate=Decimal("0.004"))
        self.candles: dict[tuple[str, str], CandleSeries] = {}
        super().__init__(identity, clock)

    def reset_state(self) -> None:
        self.markets = {pair_id(m): m for m in _MARKETS}
        self.keys = {}
        self.last_nonce = {}
        self.ledger = Ledger(fee_rate=Decimal("0.004"))
        self.candles = {}

    def add_key(self, key: KrakenKey) -> KrakenKey:
        """Make the stand-in accept this key (with its rights)."""
        with self.lock:
            self.keys[key.api_key] = key
        return key

    def deposit(self, asset: str, amount: str) -> None:
        """Credit `amount` (a decimal string) of `asset` to the account."""
        with self.lock:
            self.ledger.deposit(asset, Decimal(amount))

    def add_candles(self, symbol: str, timeframe: str, candles: list[Any]) -> None:
        """Feed candles [timestamp_ms, open, high, low, close, volume] for a market."""
        with self.lock:
            series = self.candles.setdefault((symbol, timeframe), CandleSeries())
            series.extend([tuple(c) for c in candles])

    # -- routing -------------------------------------------------------------------

    def route(self, request: RecordedRequest) -> Reply:
        public = _PUBLIC.get((request.method, request.path))
        if public is not None:
            result = public(self, request, request.params)
            return Reply.json(200, {"error": [], "result": result})
        private = _PRIVATE.get(request.path)
        if private is None or request.method != "POST":
            raise kraken_error("EGeneral:Unknown method", 404)
        handler, needs_trade = private
        key = self._authenticate(request)
        if not (key.can_trade if needs_trade else key.can_query):
            raise kraken_error("EGeneral:Permission denied")
        result = handler(self, request, request.params)
        return Reply.json(200, {"error": [], "result": result})

    def _authenticate(self, request: RecordedRequest) -> KrakenKey:
        key = self.keys.get(request.header("API-Key") or "")
        if key is None:
            raise kraken_error("EAPI:Invalid key")
        nonce = request.params.get("nonce", "")
        body = request.body.decode()
        digest = hashlib.sha256((nonce + body).encode()).digest()
        mac = hmac.new(
            base64.b64decode(key.secret), request.path.encode() + digest, "sha512"
        )
        expected = base64.b64encode(mac.digest()).decode()
        if not hmac.compare_digest(expected, request.header("API-Sign") or ""):
            raise kraken_error("EAPI:Invalid signature")
        if not nonce.isdigit() or int(nonce) <= self.last_nonce.get(key.api_key, 0):
            raise kraken_error("EAPI:Invalid nonce")
        self.last_nonce[key.api_key] = int(nonce)
        return key

    # -- exchange-format failures --------------------------------------------------

    def rate_limited_reply(self, retry_after_s: int) -> Reply:
        payload = {"error": ["EAPI:Rate limit exceeded"]}
        return Reply.json(200, payload, (("Retry-After", str(retry_after_s)),))

    def server_error_reply(self, status: int) -> Reply:
        if status == 500:
            return kraken_error("EGeneral:Internal error", 500).reply
        page = f"<html><body><h1>{status}</h1>Cloudflare</body></html>"
        return Reply(status, page.encode(), "text/html")

    def permission_denied_reply(self) -> Reply:
        return kraken_error("EGeneral:Permission denied").reply

    def invalid_key_reply(self) -> Reply:
        return kraken_error("EAPI:Invalid key").reply

    # -- public --------------------------------------------------------------------

    def _time(self, request: RecordedRequest, params: dict[str, str]) -> Any:
        now = self.clock()
        rfc1123 = time.strftime("%a, %d %b %y %H:%M:%S +0000", time.gmtime(now))
        return {"unixtime": int(now), "rfc1123": rfc1123}

    def _assets(self, request: RecordedRequest, params: dict[str, str]) -> Any:
        return {
            ASSET_IDS[code]: {
                "aclass": "currency",
                "altname": _ALT_NAMES[code],
                "decimals": 10 if code != "USD" else 4,
                "display_decimals": 5 if code != "USD" else 2,
                "status": "enabled",
            }
            for code in ASSET_IDS
        }

    def _asset_pairs(self, request: RecordedRequest, params: dict[str, str]) -> Any:
        return {pair_id(m): _pair(m) for m in self.markets.values()}

    def _ohlc(self, request: RecordedRequest, params: dict[str, str]) -> Any:
        market = self._market(params.get("pair", ""))
        minutes = int(params.get("interval", "1"))
        timeframe = next(
            (tf for tf, ms in TIMEFRAME_MS.items() if ms == minutes * 60_000), None
        )
        if timeframe is None:
            raise kraken_error("EGeneral:Invalid arguments")
        series = self.candles.get((market.symbol, timeframe), CandleSeries())
        recent = series.between(0, self.now_ms())[-_OHLC_WINDOW:]
        since_s = int(params.get("since", "0"))
        rows = [_ohlc_row(row) for row in recent if row[0] // 1000 > since_s]
        last = rows[-1][0] if rows else since_s
        return {pair_id(market): rows, "last": last}

    # -- private -------------------------------------------------------------------

    def _balance_ex(self, request: RecordedRequest, params: dict[str, str]) -> Any:
        return {
            ASSET_IDS.get(asset, asset): {
                "balance": str(
                    self.ledger.free.get(asset, Decimal(0))
                    + self.ledger.locked.get(asset, Decimal(0))
                ),
                "hold_trade": str(self.ledger.locked.get(asset, Decimal(0))),
            }
            for asset in self.ledger.assets()
        }

    def _add_order(self, request: RecordedRequest, params: dict[str, str]) -> Any:
        market = self._market(params.get("pair", ""))
        kind = params.get("ordertype", "")
        side = params.get("type", "")
        if kind not in ("limit", "market") or side not in ("buy", "sell"):
            raise kraken_error("EGeneral:Invalid arguments")
        amount = Decimal(params.get("volume", "0"))
        price = Decimal(params["price"]) if kind == "limit" else None
        _check_order(market, amount, price)
        order_id = _txid()
        client_id = params.get("cl_ord_id") or order_id
        order = OrderRecord(
            order_id, client_id, market, side, kind, amount, price, self.now_ms()
        )
        try:
            self.ledger.place(order, self.now_ms())
        except InsufficientFundsError:
            raise kraken_error("EOrder:Insufficient funds") from None
        return {"descr": {"order": _description(order)}, "txid": [order_id]}

    def _query_orders(self, request: RecordedRequest, params: dict[str, str]) -> Any:
        wanted = [t for t in params.get("txid", "").split(",") if t]
        if not wanted:
            raise kraken_error("EGeneral:Invalid arguments:txid")
        orders = {t: self.ledger.orders.get(t) for t in wanted}
        if any(order is None for order in orders.values()):
            raise kraken_error("EOrder:Invalid order")
        return {t: _order(o) for t, o in orders.items() if o is not None}

    def _open_orders(self, request: RecordedRequest, params: dict[str, str]) -> Any:
        client_id = params.get("cl_ord_id")
        return {
            "open": {
                o.order_id: _order(o)
                for o in self.ledger.orders.values()
                if o.status == "open" and client_id in (None, o.client_order_id)
            }
        }

    def _cancel_order(self, request: RecordedRequest, params: dict[str, str]) -> Any:
        order = self.ledger.orders.get(params.get("txid", ""))
        if "cl_ord_id" in params:
            order = self.ledger.by_client_id.get(params["cl_ord_id"])
        if order is None or order.status != "open":
            raise kraken_error("EOrder:Unknown order")
        self.ledger.cancel(order, self.now_ms())
        return {"count": 1}

    def _market(self, name: str) -> MarketSpec:
        market = next(
            (m for m in self.markets.values() if name in (pair_id(m), alt_name(m))),
            None,
        )
        if market is None:
            raise kraken_error("EQuery:Unknown asset pair")
        return market


def _check_order(market: MarketSpec, amount: Decimal, price: Decimal | None) -> None:
    if amount < market.min_amount:
        raise kraken_error("EOrder:Order minimum not met")
    if price is not None and price % market.price_increment:
        raise kraken_error(
            f"EOrder:Invalid price:{alt_name(market)} price can only be specified "
            "up to 1 decimals."
        )
    if amount * (price or market.last_price) < market.min_cost:
        raise kraken_error("EOrder:Cost minimum not met")


def _pair(market: MarketSpec) -> dict[str, Any]:
    return {
        "altname": alt_name(market),
        "wsname": f"{_ALT_NAMES[market.base]}/{_ALT_NAMES[market.quote]}",
        "aclass_base": "currency",
        "base": ASSET_IDS[market.base],
        "aclass_quote": "currency",
        "quote": ASSET_IDS[market.quote],
        "lot": "unit",
        "cost_decimals": 5,
        "pair_decimals": 1,
        "lot_decimals": 8,
        "lot_multiplier": 1,
        "leverage_buy": [],
        "leverage_sell": [],
        "fees": [[0, 0.4]],
        "fees_maker": [[0, 0.25]],
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": str(market.min_amount),
        "costmin": str(market.min_cost),
        "tick_size": str(market.price_increment),
        "status": "online",
    }


def _ohlc_row(row: Any) -> list[Any]:
    open_ms, open_, high, low, close, volume = row
    vwap = (high + low + close) / 3
    return [
        open_ms // 1000,
        f"{open_:.1f}",
        f"{high:.1f}",
        f"{low:.1f}",
        f"{close:.1f}",
        f"{vwap:.1f}",
        f"{volume:.8f}",
        1,
    ]


def _order(order: OrderRecord) -> dict[str, Any]:
    status = {"open": "open", "filled": "closed", "canceled": "canceled"}
    price = order.price if order.price is not None else Decimal(0)
    average = order.cost / order.filled if order.filled else Decimal(0)
    return {
        "refid": None,
        "userref": 0,
        "cl_ord_id": order.client_order_id,
        "status": status[order.status],
        "opentm": order.created_ms / 1000,
        "starttm": 0,
        "expiretm": 0,
        "descr": {
            "pair": alt_name(order.market),
            "type": order.side,
            "ordertype": order.type,
            "price": str(price),
            "price2": "0",
            "leverage": "none",
            "order": _description(order),
            "close": "",
        },
        "vol": str(order.amount),
        "vol_exec": str(order.filled),
        "cost": str(order.cost),
        "fee": str(order.fee),
        "price": str(average),
        "stopprice": "0",
        "limitprice": "0",
        "misc": "",
        "oflags": "fciq",
        "trades": [f"T{fill.trade_id:05d}-STAND-IN" for fill in order.fills],
    }


def _description(order: OrderRecord) -> str:
    """Kraken's one-line order summary, which ccxt parses for side, type and price."""
    text = f"{order.side} {order.amount:.8f} {alt_name(order.market)} @ {order.type}"
    return text if order.price is None else f"{text} {order.price:.1f}"


def _txid() -> str:
    raw = secrets.token_hex(8).upper()
    return f"O{raw[:5]}-{raw[5:10]}-{raw[10:16]}"


_PUBLIC: dict[tuple[str, str], Handler] = {
    ("GET", "/0/public/Time"): KrakenStandin._time,
    ("GET", "/0/public/Assets"): KrakenStandin._assets,
    ("GET", "/0/public/AssetPairs"): KrakenStandin._asset_pairs,
    ("GET", "/0/public/OHLC"): KrakenStandin._ohlc,
}

_PRIVATE: dict[str, tuple[Handler, bool]] = {
    "/0/private/BalanceEx": (KrakenStandin._balance_ex, False),
    "/0/private/AddOrder": (KrakenStandin._add_order, True),
    "/0/private/QueryOrders": (KrakenStandin._query_orders, False),
    "/0/private/OpenOrders": (KrakenStandin._open_orders, False),
    "/0/private/CancelOrder": (KrakenStandin._cancel_order, True),
}
