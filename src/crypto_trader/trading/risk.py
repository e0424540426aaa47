"""Risk limits: read from the settings, checked before any order is sent.

All are off by default, so that a session with default settings does what the
backtest does. An order that would break a limit is not sent; the refusal names
the setting, for the log and `trade status`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from typing import Any

from crypto_trader.backtest.model import EngineConfig
from crypto_trader.settings import Settings


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The limits of a session; 0 turns one off."""

    max_position_value: float = 0.0
    max_open_orders: int = 0
    max_daily_loss_pct: float = 0.0
    stop_loss_pct: float = 0.0
    take_profit_pct: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RiskLimits:
        """The limits `config set risk.*` chose."""
        return cls(
            max_position_value=float(settings.get("risk.max_position_value")),
            max_open_orders=int(settings.get("risk.max_open_orders")),
            max_daily_loss_pct=float(settings.get("risk.max_daily_loss_pct")),
            stop_loss_pct=float(settings.get("risk.stop_loss_pct")),
            take_profit_pct=float(settings.get("risk.take_profit_pct")),
        )

    def apply_stops(self, config: EngineConfig) -> EngineConfig:
        """`config` with the configured stop-loss and take-profit where they are
        tighter than its own (the strategy's): a limit never loosens a stop."""
        return replace(
            config,
            stop_loss=_nearer(self.stop_loss_pct / 100, config.stop_loss),
            take_profit=_nearer(self.take_profit_pct / 100, config.take_profit),
        )

    def entry_refusal(
        self, open_orders: int, position_value: float, entry_value: float
    ) -> str | None:
        """Why an entry may not be sent, or None."""
        if self.max_open_orders and open_orders >= self.max_open_orders:
            return (
                f"risk.max_open_orders ({self.max_open_orders}) reached: "
                f"{open_orders} orders are open"
            )
        worth = position_value + entry_value
        if self.max_position_value and worth > self.max_position_value:
            return (
                f"risk.max_position_value ({self.max_position_value:g}) would be "
                f"exceeded: the position would be worth {worth:.2f}"
            )
        return None

    def daily_loss_breached(self, day_start: float, equity: float) -> bool:
        """Whether the day's loss has reached the limit."""
        if not self.max_daily_loss_pct or not day_start > 0:
            return False
        return equity <= day_start * (1 - self.max_daily_loss_pct / 100)


@dataclass(frozen=True, slots=True)
class MarketRules:
    """A market's precision and minimums, as ccxt describes them."""

    amount_step: Decimal | None
    price_step: Decimal | None
    min_amount: Decimal | None
    min_cost: Decimal | None

    @classmethod
    def from_market(cls, market: dict[str, Any]) -> MarketRules:
        """From a ccxt market whose precision is in tick sizes."""
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}
        return cls(
            amount_step=_decimal(precision.get("amount")),
            price_step=_decimal(precision.get("price")),
            min_amount=_decimal((limits.get("amount") or {}).get("min")),
            min_cost=_decimal((limits.get("cost") or {}).get("min")),
        )

    def amount(self, value: float) -> float:
        """`value` rounded down to the amount step."""
        return _round_down(value, self.amount_step)

    def price(self, value: float) -> float:
        """`value` rounded down to the price step."""
        return _round_down(value, self.price_step)

    def refusal(self, amount: float, price: float) -> str | None:
        """Why an order of `amount` at about `price` breaks the market's minimums."""
        if not amount > 0:
            return "the market's amount step leaves nothing to trade"
        if self.min_amount is not None and Decimal(repr(amount)) < self.min_amount:
            return (
                f"market minimum amount ({self.min_amount.normalize()}) not met: "
                f"{amount:.8g}"
            )
        cost = amount * price
        if self.min_cost is not None and Decimal(repr(cost)) < self.min_cost:
            return (
                f"market minimum cost ({self.min_cost.normalize()}) not met: {cost:.8g}"
            )
        return None


def _nearer(limit: float, own: float | None) -> float | None:
    # The smaller distance from the entry of two levels, where each is set (> 0).
    if not limit > 0:
        return own
    return limit if own is None or not own > 0 else min(limit, own)


def _decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    number = Decimal(str(value))
    return number if number > 0 and number.is_finite() else None


def _round_down(value: float, step: Decimal | None) -> float:
    if step is None or not math.isfinite(value):
        return value
    steps = (Decimal(repr(value)) / step).to_integral_value(rounding=ROUND_DOWN)
    return float(steps * step)
