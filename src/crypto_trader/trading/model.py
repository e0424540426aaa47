"""What a trading session is: its settings, its states, and its orders' states."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from crypto_trader.backtest.model import EngineConfig, Fill, Stake, StakeKind


class Mode(StrEnum):
    """Paper trades against a simulation; live sends orders to the exchange."""

    PAPER = "paper"
    LIVE = "live"


class SessionState(StrEnum):
    """Where a session stands; `running` and `halted` sessions have not ended."""

    RUNNING = "running"
    HALTED = "halted"
    STOPPED = "stopped"
    FINISHED = "finished"

    @property
    def ended(self) -> bool:
        """Stopped or finished: a new start begins a new session."""
        return self in (SessionState.STOPPED, SessionState.FINISHED)


class OrderState(StrEnum):
    """An order's state, following the exchange's."""

    NEW = "new"  # stored, not yet known to the exchange
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def in_flight(self) -> bool:
        """New, open or partially filled: it may still fill."""
        return self in (
            OrderState.NEW,
            OrderState.OPEN,
            OrderState.PARTIALLY_FILLED,
        )


class OrderKind(StrEnum):
    """How a live session places its orders."""

    MARKET = "market"
    LIMIT = "limit"


@dataclass(frozen=True, slots=True)
class TradeSpec:
    """Everything a `trade` command was given; the same spec resumes a session."""

    strategy: str
    params: dict[str, int | float]
    exchange: str
    symbols: tuple[str, ...]
    timeframe: str
    mode: Mode
    config: EngineConfig
    key_label: str | None = None
    replay: bool = False
    order_kind: OrderKind = OrderKind.MARKET
    speed: float | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The spec as plain JSON values (the speed left out: it may change)."""
        config = self.config
        return {
            "strategy": self.strategy,
            "params": self.params,
            "exchange": self.exchange,
            "symbols": list(self.symbols),
            "timeframe": self.timeframe,
            "mode": self.mode.value,
            "key": self.key_label,
            "replay": self.replay,
            "order_type": self.order_kind.value,
            "cash": config.cash,
            "fee_rate": config.fee_rate,
            "slippage_bps": config.slippage_bps,
            "fill": config.fill.value,
            "stake": {"kind": config.stake.kind.value, "value": config.stake.value},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TradeSpec:
        """The spec `to_json` wrote."""
        stake = data["stake"]
        return cls(
            strategy=data["strategy"],
            params=dict(data["params"]),
            exchange=data["exchange"],
            symbols=tuple(data["symbols"]),
            timeframe=data["timeframe"],
            mode=Mode(data["mode"]),
            config=EngineConfig(
                cash=float(data["cash"]),
                fee_rate=float(data["fee_rate"]),
                slippage_bps=float(data["slippage_bps"]),
                fill=Fill(data["fill"]),
                stake=Stake(StakeKind(stake["kind"]), float(stake["value"])),
            ),
            key_label=data["key"],
            replay=bool(data["replay"]),
            order_kind=OrderKind(data["order_type"]),
        )

    def fingerprint(self) -> str:
        """A digest of the spec: two starts with the same one are the same session."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def describe(self) -> str:
        """One line for messages: strategy, mode, exchange, symbols, timeframe."""
        symbols = ", ".join(self.symbols)
        source = " replay" if self.replay else ""
        return (
            f"{self.strategy} {self.mode.value}{source} on {self.exchange} "
            f"{symbols} {self.timeframe}"
        )
