"""A Coinbase Advanced Trade stand-in that authenticates and answers like
api.coinbase.com (the v3 brokerage API, and the v2 endpoints ccxt also calls).

Private endpoints need a valid per-request ES256 JWT (see `coinbase_auth`); orders
and cancels also need the key's trade right (403 PERMISSION_DENIED otherwise). A
client_order_id already used returns the existing order instead of a new one, as
Coinbase does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.exchange_standins import coinbase_orders
from tests.support.exchange_standins.book import (
    DEFAULT_MARKETS,
    CandleSeries,
    Ledger,
    MarketSpec,
)
from tests.support.exchange_standins.coinbase_auth import (
    CoinbaseKey,
    authenticate,
    unauthorized,
)
from tests.support.exchange_standins.coinbase_format import (
    GRANULARITY_S,
    TIMEFRAME_OF,
    candle,
    coinbase_error,
    currencies,
    iso,
    product,
    product_id,
    v2_accounts,
    v3_accounts,
)
from tests.support.exchange_standins.messages import RecordedRequest, Reply
from tests.support.exchange_standins.server import Clock, Standin
from tests.support.exchange_standins.tls import COINBASE_HOSTS, ServerIdentity

_CANDLES_MAX = 350
_USD_MARKETS = tuple(
    MarketSpec(
        m.base,
        "USD",
        m.price_increment,
        Decimal("0.00000001"),
        Decimal("0.00000001"),
        m.max_amount,
        Decimal("1"),
        m.last_price,
    )
    for m in DEFAULT_MARKETS
    if m.quote == "USDT"
)


@dataclass(frozen=True, slots=True)
class Call:
    """One routed request: the request, its path parameters and the signing key."""

    request: RecordedRequest
    path: dict[str, str]
    key: CoinbaseKey | None

    @property
    def params(self) -> dict[str, str]:
        return self.request.params


Handler = Callable[["CoinbaseStandin", Call], Any]


class CoinbaseStandin(Standin):
    """Coinbase Advanced Trade: products, candles, accounts, orders, key rights."""

    hosts = COINBASE_HOSTS

    def __init__(self, identity: ServerIdentity, clock: Clock = time.time) -> None:
        self.markets: dict[str, MarketSpec] = {}
        self.keys: dict[str, CoinbaseKey] = {}
        self.public_keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self.ledger = Ledger(fee_rate=Decimal("0.006"))
        self.candles: dict[tuple[str, str], CandleSeries] = {}
        super().__init__(identity, clock)

    def reset_state(self) -> None:
        self.markets = {product_id(m): m for m in _USD_MARKETS}
        self.keys = {}
        self.public_keys = {}
        self.ledger = Ledger(fee_rate=Decimal("0.006"))
        self.candles = {}

    # -- test set-up ---------------------------------------------------------------

    def add_key(self, key: CoinbaseKey) -> CoinbaseKey:
        """Make the stand-in accept this key (with its rights)."""
        with self.lock:
            self.keys[key.name] = key
            self.public_keys[key.name] = key.public_key()
        return key

    def add_market(self, market: MarketSpec) -> None:
        """List one more spot market."""
        with self.lock:
            self.markets[product_id(market)] = market

    def deposit(self, asset: str, amount: str) -> None:
        """Credit `amount` (a decimal string) of `asset` to the account."""
        with self.lock:
            self.ledger.deposit(asset, Decimal(amount))

    def add_candles(self, symbol: str, timeframe: str, candles: list[Any]) -> None:
        """Feed candles [timestamp_ms, open, high, low, close, volume] for a market."""
        with self.lock:
            series = self.candles.setdefault((symbol, timeframe), CandleSeries())
            series.extend([tuple(c) for c in candles])

    def market(self, symbol: str) -> MarketSpec:
        """The market spec of a unified symbol such as BTC/USDT."""
        return next(m for m in self.markets.values() if m.symbol == symbol)

    # -- routing -------------------------------------------------------------------

    def route(self, request: RecordedRequest) -> Reply:
        for method, pattern, handler, access in _ROUTES:
            match = pattern.fullmatch(request.path)
            if match is None or method != request.method:
                continue
            key = None if access == "public" else self._authorize(request, access)
            return Reply.json(200, handler(self, Call(request, match.groupdict(), key)))
        raise coinbase_error(404, "NOT_FOUND", "Not Found")

    def _authorize(self, request: RecordedRequest, access: str) -> CoinbaseKey:
        key = authenticate(request, self.keys, self.public_keys, self.clock())
        allowed = key.can_trade if access == "trade" else key.can_view
        if not allowed:
            raise coinbase_error(403, "PERMISSION_DENIED", "Missing required scopes")
        return key

    # -- exchange-format failures --------------------------------------------------

    def rate_limited_reply(self, retry_after_s: int) -> Reply:
        payload = {
            "errors": [{"id": "rate_limit_exceeded", "message": "Too many requests"}]
        }
        return Reply.json(429, payload, (("Retry-After", str(retry_after_s)),))

    def server_error_reply(self, status: int) -> Reply:
        if status == 500:
            return coinbase_error(500, "INTERNAL", "Internal server error").reply
        text = "upstream connect error or disconnect/reset before headers"
        return Reply(status, text.encode(), "text/plain")

    def permission_denied_reply(self) -> Reply:
        return coinbase_error(403, "PERMISSION_DENIED", "Missing required scopes").reply

    def invalid_key_reply(self) -> Reply:
        return unauthorized().reply

    # -- public endpoints ----------------------------------------------------------

    def _products(self, call: Call) -> Any:
        if call.params.get("product_type", "SPOT") != "SPOT":
            return {"products": [], "num_products": 0}
        products = [product(m) for m in self.markets.values()]
        return {"products": products, "num_products": len(products)}

    def _product(self, call: Call) -> Any:
        return product(self._market(call.path["product_id"]))

    def _candles(self, call: Call) -> Any:
        market = self._market(call.path["product_id"])
        params = call.params
        granularity = params.get("granularity", "")
        if granularity not in GRANULARITY_S:
            raise coinbase_error(
                400, "INVALID_ARGUMENT", "granularity argument is invalid"
            )
        try:
            start, end = int(params["start"]), int(params["end"])
        except (KeyError, ValueError):
            raise coinbase_error(
                400, "INVALID_ARGUMENT", "start and end arguments are required"
            ) from None
        limit = int(params.get("limit", str(_CANDLES_MAX)))
        if (end - start) / GRANULARITY_S[granularity] > _CANDLES_MAX or limit > 350:
            raise coinbase_error(
                400,
                "INVALID_ARGUMENT",
                "start and end argument is invalid - number of candles requested "
                "should be less than 350",
            )
        series = self.candles.get((market.symbol, TIMEFRAME_OF[granularity]))
        rows = series.between(start * 1000, end * 1000 - 1) if series else []
        return {"candles": [candle(row) for row in reversed(rows)][:limit]}

    def _currencies(self, call: Call) -> Any:
        assets = {m.base for m in self.markets.values()}
        assets |= {m.quote for m in self.markets.values()}
        return currencies(
            sorted(assets), fiat=not call.request.path.endswith("/crypto")
        )

    def _exchange_rates(self, call: Call) -> Any:
        rates = {m.base: str(1 / m.last_price) for m in self.markets.values()}
        return {"data": {"currency": "USD", "rates": {"USD": "1", **rates}}}

    def _time(self, call: Call) -> Any:
        now_ms = self.now_ms()
        if call.request.path.startswith("/v2/"):
            return {"data": {"iso": iso(now_ms), "epoch": now_ms // 1000}}
        return {
            "iso": iso(now_ms),
            "epochSeconds": str(now_ms // 1000),
            "epochMillis": str(now_ms),
        }

    # -- private reads -------------------------------------------------------------

    def _key_permissions(self, call: Call) -> Any:
        key = call.key
        assert key is not None
        return {
            "can_view": key.can_view,
            "can_trade": key.can_trade,
            "can_transfer": key.can_transfer,
            "portfolio_uuid": key.portfolio_uuid,
            "portfolio_type": "DEFAULT",
        }

    def _transaction_summary(self, call: Call) -> Any:
        return {
            "total_volume": 0,
            "total_fees": 0,
            "fee_tier": {
                "pricing_tier": "Advanced 1",
                "usd_from": "0",
                "usd_to": "1000",
                "taker_fee_rate": "0.012",
                "maker_fee_rate": "0.006",
                "aop_from": "",
                "aop_to": "",
            },
            "margin_rate": None,
            "goods_and_services_tax": None,
            "advanced_trade_only_volume": 0,
            "advanced_trade_only_fees": 0,
            "coinbase_pro_volume": 0,
            "coinbase_pro_fees": 0,
            "total_balance": "",
            "has_promo_fee": False,
        }

    def _v3_accounts(self, call: Call) -> Any:
        return v3_accounts(self.ledger, self.now_ms())

    def _v2_accounts(self, call: Call) -> Any:
        return v2_accounts(self.ledger, self.now_ms())

    def _market(self, market_id: str) -> MarketSpec:
        market = self.markets.get(market_id)
        if market is None:
            raise coinbase_error(400, "INVALID_ARGUMENT", "ProductID is invalid")
        return market


def _route(
    method: str, path: str, handler: Handler, access: str = "public"
) -> tuple[str, re.Pattern[str], Handler, str]:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return method, re.compile(pattern), handler, access


_ROUTES = (
    _route("GET", "/v2/currencies", CoinbaseStandin._currencies),
    _route("GET", "/v2/currencies/crypto", CoinbaseStandin._currencies),
    _route("GET", "/v2/exchange-rates", CoinbaseStandin._exchange_rates),
    _route("GET", "/v2/time", CoinbaseStandin._time),
    _route("GET", "/api/v3/brokerage/time", CoinbaseStandin._time),
    _route("GET", "/api/v3/brokerage/market/products", CoinbaseStandin._products),
    _route(
        "GET",
        "/api/v3/brokerage/market/products/{product_id}",
        CoinbaseStandin._product,
    ),
    _route(
        "GET",
        "/api/v3/brokerage/market/products/{product_id}/candles",
        CoinbaseStandin._candles,
    ),
    _route("GET", "/api/v3/brokerage/products", CoinbaseStandin._products, "view"),
    _route(
        "GET",
        "/api/v3/brokerage/products/{product_id}",
        CoinbaseStandin._product,
        "view",
    ),
    _route(
        "GET",
        "/api/v3/brokerage/products/{product_id}/candles",
        CoinbaseStandin._candles,
        "view",
    ),
    _route(
        "GET",
        "/api/v3/brokerage/transaction_summary",
        CoinbaseStandin._transaction_summary,
        "view",
    ),
    _route(
        "GET",
        "/api/v3/brokerage/key_permissions",
        CoinbaseStandin._key_permissions,
        "view",
    ),
    _route("GET", "/api/v3/brokerage/accounts", CoinbaseStandin._v3_accounts, "view"),
    _route("GET", "/v2/accounts", CoinbaseStandin._v2_accounts, "view"),
    *(
        _route(method, path, handler, access)
        for method, path, handler, access in coinbase_orders.ENDPOINTS
    ),
)
