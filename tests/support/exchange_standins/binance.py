"""A Binance spot stand-in that authenticates and answers like api.binance.com.

Signed endpoints check, in Binance's order: the X-MBX-APIKEY header (-2014 when
missing or malformed, -2015 when unknown), the timestamp against recvWindow on the
stand-in's clock (-1021), the HMAC-SHA256 hex signature over the query string
followed by the body, both without the signature parameter (-1022), and the key's
rights for the endpoint (-2015). Errors use Binance's {"code", "msg"} body.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tests.support.exchange_standins import binance_orders
from tests.support.exchange_standins.binance_format import (
    binance_error,
    exchange_info,
    market_id,
    require,
)
from tests.support.exchange_standins.book import (
    DEFAULT_MARKETS,
    TIMEFRAME_MS,
    CandleSeries,
    Ledger,
    MarketSpec,
)
from tests.support.exchange_standins.messages import RecordedRequest, Reply
from tests.support.exchange_standins.server import Clock, Standin
from tests.support.exchange_standins.tls import (
    BINANCE_HOSTS,
    BINANCE_SANDBOX_HOSTS,
    ServerIdentity,
)

_KEY_FORMAT = re.compile(r"[A-Za-z0-9]{64}")
_MAX_RECV_WINDOW_MS = 60_000
_KLINES_MAX = 1000


@dataclass(frozen=True, slots=True)
class BinanceKey:
    """An API key the stand-in knows, with the rights Binance reports for it."""

    api_key: str
    secret: str
    can_read: bool = True
    can_trade: bool = False
    can_withdraw: bool = False
    can_transfer: bool = False
    ip_restrict: bool = False
    created_ms: int = field(default=1_700_000_000_000)

    @classmethod
    def generate(
        cls,
        can_trade: bool = False,
        can_withdraw: bool = False,
        can_transfer: bool = False,
        ip_restrict: bool = False,
    ) -> BinanceKey:
        """A fresh random key (64 characters, like Binance's) with these rights."""
        return cls(
            secrets.token_hex(32),
            secrets.token_hex(32),
            can_trade=can_trade,
            can_withdraw=can_withdraw,
            can_transfer=can_transfer,
            ip_restrict=ip_restrict,
        )


Handler = Callable[["BinanceStandin", RecordedRequest, BinanceKey | None], Any]


class BinanceStandin(Standin):
    """Binance spot: markets, klines, balances, orders and key restrictions."""

    hosts = BINANCE_HOSTS + BINANCE_SANDBOX_HOSTS

    def __init__(self, identity: ServerIdentity, clock: Clock = time.time) -> None:
        self.markets: dict[str, MarketSpec] = {}
        self.keys: dict[str, BinanceKey] = {}
        self.ledger = Ledger()
        self.candles: dict[tuple[str, str], CandleSeries] = {}
        super().__init__(identity, clock)

    def reset_state(self) -> None:
        self.markets = {market_id(m): m for m in DEFAULT_MARKETS}
        self.keys = {}
        self.ledger = Ledger()
        self.candles = {}
        self.next_order_id = 28_000_001

    # -- test set-up ---------------------------------------------------------------

    def add_key(self, key: BinanceKey) -> BinanceKey:
        """Make the stand-in accept this key (with its rights)."""
        with self.lock:
            self.keys[key.api_key] = key
        return key

    def add_market(self, market: MarketSpec) -> None:
        """List one more spot market."""
        with self.lock:
            self.markets[market_id(market)] = market

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
        public = _PUBLIC.get((request.method, request.path))
        if public is not None:
            return Reply.json(200, public(self, request, None))
        signed = _SIGNED.get((request.method, request.path))
        if signed is None:
            raise binance_error(404, -1000, f"Unknown endpoint {request.path}.")
        handler, needs_trade = signed
        key = self._authenticate(request)
        if needs_trade and not key.can_trade:
            raise binance_error(
                401, -2015, "Invalid API-key, IP, or permissions for action."
            )
        return Reply.json(200, handler(self, request, key))

    def _authenticate(self, request: RecordedRequest) -> BinanceKey:
        api_key = request.header("X-MBX-APIKEY") or ""
        if not _KEY_FORMAT.fullmatch(api_key):
            raise binance_error(401, -2014, "API-key format invalid.")
        key = self.keys.get(api_key)
        if key is None or not key.can_read:
            raise binance_error(
                401, -2015, "Invalid API-key, IP, or permissions for action."
            )
        params = request.params
        self._check_timestamp(params)
        signature = params.get("signature", "")
        payload = _without_signature(request.query) + _without_signature(
            request.body.decode()
        )
        expected = hmac.new(key.secret.encode(), payload.encode(), hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), signature.lower()):
            raise binance_error(400, -1022, "Signature for this request is not valid.")
        return key

    def _check_timestamp(self, params: dict[str, str]) -> None:
        timestamp = int(require(params, "timestamp"))
        recv_window = int(params.get("recvWindow", "5000"))
        if recv_window > _MAX_RECV_WINDOW_MS:
            raise binance_error(400, -1131, "recvWindow must be less than 60000")
        now = self.now_ms()
        if timestamp >= now + 1000:
            raise binance_error(
                400,
                -1021,
                "Timestamp for this request was 1000ms ahead of the server's time.",
            )
        if now - timestamp > recv_window:
            raise binance_error(
                400, -1021, "Timestamp for this request is outside of the recvWindow."
            )

    # -- exchange-format failures --------------------------------------------------

    def rate_limited_reply(self, retry_after_s: int) -> Reply:
        return binance_error(
            429,
            -1003,
            "Too much request weight used; current limit is 6000 request weight "
            "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid "
            "polling the API.",
            (("Retry-After", str(retry_after_s)),),
        ).reply

    def server_error_reply(self, status: int) -> Reply:
        if status == 503:
            return binance_error(
                503,
                -1008,
                "Server is currently overloaded with other requests. Please try "
                "again in a few minutes.",
            ).reply
        if status in (502, 504):
            page = f"<html><body><h1>{status} Gateway error</h1></body></html>"
            return Reply(status, page.encode(), "text/html")
        message = "Internal error; unable to process your request. Please try again."
        return binance_error(status, -1001, message).reply

    def permission_denied_reply(self) -> Reply:
        message = "Invalid API-key, IP, or permissions for action."
        return binance_error(401, -2015, message).reply

    def invalid_key_reply(self) -> Reply:
        return binance_error(401, -2014, "API-key format invalid.").reply

    # -- public endpoints ----------------------------------------------------------

    def _ping(self, request: RecordedRequest, key: BinanceKey | None) -> Any:
        return {}

    def _time(self, request: RecordedRequest, key: BinanceKey | None) -> Any:
        return {"serverTime": self.now_ms()}

    def _exchange_info(self, request: RecordedRequest, key: BinanceKey | None) -> Any:
        is_spot = request.path.startswith("/api/")
        markets = list(self.markets.values()) if is_spot else []
        return exchange_info(markets, self.now_ms())

    def _klines(self, request: RecordedRequest, key: BinanceKey | None) -> Any:
        params = request.params
        market = self.markets.get(require(params, "symbol"))
        if market is None:
            raise binance_error(400, -1121, "Invalid symbol.")
        interval = require(params, "interval")
        if interval not in TIMEFRAME_MS:
            raise binance_error(400, -1120, "Invalid interval.")
        limit = int(params.get("limit", "500"))
        if not 1 <= limit <= _KLINES_MAX:
            raise binance_error(
                400, -1130, "Data sent for parameter 'limit' is not valid."
            )
        series = self.candles.get((market.symbol, interval), CandleSeries())
        start = int(params.get("startTime", "0"))
        end = int(params.get("endTime", str(2**62)))
        rows = series.between(start, end)
        rows = rows[:limit] if "startTime" in params else rows[-limit:]
        step = TIMEFRAME_MS[interval]
        return [_kline(row, step) for row in rows]

    # -- signed reads --------------------------------------------------------------

    def _account(self, request: RecordedRequest, key: BinanceKey | None) -> Any:
        assert key is not None
        balances = [
            {
                "asset": asset,
                "free": _amount(self.ledger.free.get(asset, Decimal(0))),
                "locked": _amount(self.ledger.locked.get(asset, Decimal(0))),
            }
            for asset in self.ledger.assets()
        ]
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": "0.00100000",
                "taker": "0.00100000",
                "buyer": "0.00000000",
                "seller": "0.00000000",
            },
            "canTrade": key.can_trade,
            "canWithdraw": key.can_withdraw,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.now_ms(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": 354937868,
        }

    def _api_restrictions(
        self, request: RecordedRequest, key: BinanceKey | None
    ) -> Any:
        assert key is not None
        return {
            "ipRestrict": key.ip_restrict,
            "createTime": key.created_ms,
            "enableReading": key.can_read,
            "enableWithdrawals": key.can_withdraw,
            "enableInternalTransfer": key.can_transfer,
            "enableMargin": False,
            "enableFutures": False,
            "permitsUniversalTransfer": key.can_transfer,
            "enableVanillaOptions": False,
            "enableFixApiTrade": False,
            "enableFixReadOnly": False,
            "enableSpotAndMarginTrading": key.can_trade,
            "enablePortfolioMarginTrading": False,
        }

    def _coins(self, request: RecordedRequest, key: BinanceKey | None) -> Any:
        assets = sorted({m.base for m in self.markets.values()} | {"USDT"})
        return [_coin(asset, self.ledger) for asset in assets]

    def _no_pairs(self, request: RecordedRequest, key: BinanceKey | None) -> Any:
        return []


def _without_signature(text: str) -> str:
    return "&".join(p for p in text.split("&") if not p.startswith("signature="))


def _kline(row: Any, step: int) -> list[Any]:
    open_ms, open_, high, low, close, volume = row
    quote_volume = volume * close
    return [
        open_ms,
        f"{open_:.8f}",
        f"{high:.8f}",
        f"{low:.8f}",
        f"{close:.8f}",
        f"{volume:.8f}",
        open_ms + step - 1,
        f"{quote_volume:.8f}",
        1,
        "0.00000000",
        "0.00000000",
        "0",
    ]


def _amount(value: Decimal) -> str:
    return f"{value:.8f}"


def _coin(asset: str, ledger: Ledger) -> dict[str, Any]:
    return {
        "coin": asset,
        "depositAllEnable": True,
        "withdrawAllEnable": True,
        "name": asset,
        "free": _amount(ledger.free.get(asset, Decimal(0))),
        "locked": _amount(ledger.locked.get(asset, Decimal(0))),
        "freeze": "0",
        "withdrawing": "0",
        "ipoing": "0",
        "ipoable": "0",
        "storage": "0",
        "isLegalMoney": False,
        "trading": True,
        "networkList": [],
    }


_PUBLIC: dict[tuple[str, str], Handler] = {
    ("GET", "/api/v3/ping"): BinanceStandin._ping,
    ("GET", "/api/v3/time"): BinanceStandin._time,
    ("GET", "/api/v3/exchangeInfo"): BinanceStandin._exchange_info,
    ("GET", "/api/v3/klines"): BinanceStandin._klines,
    ("GET", "/fapi/v1/exchangeInfo"): BinanceStandin._exchange_info,
    ("GET", "/dapi/v1/exchangeInfo"): BinanceStandin._exchange_info,
}

_SIGNED: dict[tuple[str, str], tuple[Handler, bool]] = {
    ("GET", "/api/v3/account"): (BinanceStandin._account, False),
    ("GET", "/sapi/v1/account/apiRestrictions"): (
        BinanceStandin._api_restrictions,
        False,
    ),
    ("GET", "/sapi/v1/capital/config/getall"): (BinanceStandin._coins, False),
    ("GET", "/sapi/v1/margin/allPairs"): (BinanceStandin._no_pairs, False),
    ("GET", "/sapi/v1/margin/isolated/allPairs"): (BinanceStandin._no_pairs, False),
    **binance_orders.ENDPOINTS,
}
