"""Exchange state shared by the stand-ins: markets, balances, orders and candles.

Matching is deliberately simple and stated here: a market order fills at once at the
market's `last_price`; a limit order rests until the test fills it (`fill`). Fees are
charged at `fee_rate` in the quote currency, or with `fee_in_received` in the asset an
order receives (a buy's base), as Binance does for an account that pays no other way.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from decimal import Decimal

Candle = tuple[int, float, float, float, float, float]

TIMEFRAME_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
}


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """A spot market with its precision and limits, in exchange-neutral terms."""

    base: str
    quote: str
    price_increment: Decimal
    amount_increment: Decimal
    min_amount: Decimal
    max_amount: Decimal
    min_cost: Decimal
    last_price: Decimal

    @property
    def symbol(self) -> str:
        return f"{self.base}/{self.quote}"


DEFAULT_MARKETS = (
    MarketSpec(
        "BTC",
        "USDT",
        Decimal("0.01"),
        Decimal("0.00001"),
        Decimal("0.00001"),
        Decimal("9000"),
        Decimal("5"),
        Decimal("50000"),
    ),
    MarketSpec(
        "ETH",
        "USDT",
        Decimal("0.01"),
        Decimal("0.0001"),
        Decimal("0.0001"),
        Decimal("9000"),
        Decimal("5"),
        Decimal("3000"),
    ),
    MarketSpec(
        "ETH",
        "BTC",
        Decimal("0.00001"),
        Decimal("0.0001"),
        Decimal("0.0001"),
        Decimal("100000"),
        Decimal("0.0001"),
        Decimal("0.06"),
    ),
)


class InsufficientFundsError(Exception):
    """Raised when an order needs more of an asset than is free."""


@dataclass(slots=True)
class OrderRecord:
    """An order as the exchange keeps it."""

    order_id: str
    client_order_id: str
    market: MarketSpec
    side: str  # "buy" or "sell"
    type: str  # "limit" or "market"
    amount: Decimal
    price: Decimal | None
    created_ms: int
    status: str = "open"  # "open", "filled", "canceled"
    filled: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    updated_ms: int = 0
    fills: list[Fill] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade against an order."""

    trade_id: int
    order_id: str
    price: Decimal
    amount: Decimal
    fee: Decimal
    timestamp_ms: int
    fee_asset: str = ""  # "" for the quote currency


class Ledger:
    """Balances per asset (free and locked) and every order, by both ids."""

    def __init__(
        self, fee_rate: Decimal = Decimal("0.001"), fee_in_received: bool = False
    ) -> None:
        self.fee_rate = fee_rate
        self.fee_in_received = fee_in_received
        self.free: dict[str, Decimal] = {}
        self.locked: dict[str, Decimal] = {}
        self.orders: dict[str, OrderRecord] = {}
        self.by_client_id: dict[str, OrderRecord] = {}
        self._next_trade_id = 1

    def deposit(self, asset: str, amount: Decimal) -> None:
        """Credit `amount` of `asset` as free balance."""
        self.free[asset] = self.free.get(asset, Decimal(0)) + amount

    def assets(self) -> list[str]:
        """Every asset with a free or locked balance, sorted."""
        return sorted(set(self.free) | set(self.locked))

    def place(self, order: OrderRecord, now_ms: int) -> None:
        """Reserve the funds and record the order; fill a market order at once."""
        asset, needed = self._reservation(order)
        if self.free.get(asset, Decimal(0)) < needed:
            raise InsufficientFundsError(asset)
        self.free[asset] -= needed
        self.locked[asset] = self.locked.get(asset, Decimal(0)) + needed
        self.orders[order.order_id] = order
        self.by_client_id[order.client_order_id] = order
        if order.type == "market":
            self.fill(order, order.market.last_price, now_ms)

    def fill(self, order: OrderRecord, price: Decimal, now_ms: int) -> None:
        """Fill the rest of an open order at `price`, settling both balances."""
        if order.status != "open":
            raise ValueError(f"order {order.order_id} is {order.status}")
        amount = order.amount - order.filled
        cost = amount * price
        fee = cost * self.fee_rate
        market = order.market
        asset, reserved = self._reservation(order, remaining_only=True)
        self.locked[asset] -= reserved
        fee_asset = ""
        if order.side == "buy" and self.fee_in_received:
            fee, fee_asset = amount * self.fee_rate, market.base
            self.free[market.quote] += reserved - cost
            self.deposit(market.base, amount - fee)
        elif order.side == "buy":
            self.free[market.quote] += reserved - cost - fee
            self.deposit(market.base, amount)
        else:
            self.deposit(market.quote, cost - fee)
        trade_id = self._next_trade_id
        order.fills.append(
            Fill(trade_id, order.order_id, price, amount, fee, now_ms, fee_asset)
        )
        self._next_trade_id += 1
        order.filled += amount
        order.cost += cost
        order.fee += fee
        order.status = "filled"
        order.updated_ms = now_ms

    def cancel(self, order: OrderRecord, now_ms: int) -> None:
        """Cancel an open order and release what it reserved."""
        asset, reserved = self._reservation(order, remaining_only=True)
        self.locked[asset] -= reserved
        self.free[asset] += reserved
        order.status = "canceled"
        order.updated_ms = now_ms

    def _reservation(
        self, order: OrderRecord, remaining_only: bool = False
    ) -> tuple[str, Decimal]:
        amount = order.amount - (order.filled if remaining_only else Decimal(0))
        if order.side == "sell":
            return order.market.base, amount
        price = order.price if order.price is not None else order.market.last_price
        cost = amount * price
        fee = Decimal(0) if self.fee_in_received else cost * self.fee_rate
        return order.market.quote, cost + fee


class CandleSeries:
    """Candles of one market and timeframe, sorted and unique by open time."""

    def __init__(self) -> None:
        self._times: list[int] = []
        self._rows: dict[int, Candle] = {}

    def extend(self, candles: list[Candle]) -> None:
        """Add or replace candles by open time."""
        for candle in candles:
            if candle[0] not in self._rows:
                bisect.insort(self._times, candle[0])
            self._rows[candle[0]] = candle

    def between(self, first_ms: int, last_ms: int) -> list[Candle]:
        """Candles whose open time is within [first_ms, last_ms], oldest first."""
        low = bisect.bisect_left(self._times, first_ms)
        high = bisect.bisect_right(self._times, last_ms)
        return [self._rows[t] for t in self._times[low:high]]

    def __len__(self) -> int:
        return len(self._times)


def synthetic_candles(
    start_ms: int, count: int, timeframe: str = "1h", seed: int = 7
) -> list[Candle]:
    """`count` plausible candles from `start_ms` on, the same for the same seed."""
    step = TIMEFRAME_MS[timeframe]
    rng = random.Random(seed)
    price = 100.0 + seed
    candles: list[Candle] = []
    for index in range(count):
        open_price = round(price, 2)
        close = round(max(1.0, open_price * (1 + rng.uniform(-0.01, 0.01))), 2)
        high = round(max(open_price, close) * (1 + rng.uniform(0, 0.005)), 2)
        low = round(min(open_price, close) * (1 - rng.uniform(0, 0.005)), 2)
        volume = round(rng.uniform(0, 50), 6)
        candles.append((start_ms + index * step, open_price, high, low, close, volume))
        price = close
    return candles
