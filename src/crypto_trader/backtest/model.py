"""What the engine takes and gives: settings, trades and the equity curve."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Fill(StrEnum):
    """Where a signal fills: the next candle's open (default) or the signal's close."""

    NEXT_OPEN = "next-open"
    CLOSE = "close"


class StakeKind(StrEnum):
    """How much of the account an entry uses."""

    ALL = "all"
    FRACTION = "fraction"
    AMOUNT = "amount"


@dataclass(frozen=True, slots=True)
class Stake:
    """All-in, a fraction of equity (0.25), or a quote amount (500)."""

    kind: StakeKind = StakeKind.ALL
    value: float = 1.0


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Costs and conventions of a simulation."""

    cash: float = 10_000.0
    fee_rate: float = 0.001
    slippage_bps: float = 0.0
    fill: Fill = Fill.NEXT_OPEN
    stake: Stake = Stake()
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None


@dataclass(frozen=True, slots=True)
class Trades:
    """One row per entry, as parallel arrays; an open position has exit_index -1."""

    entry_index: IntArray
    exit_index: IntArray
    entry_price: FloatArray
    exit_price: FloatArray
    amount: FloatArray
    entry_fee: FloatArray
    exit_fee: FloatArray
    pnl: FloatArray
    exit_reason: IntArray  # 0 signal, 1 stop-loss, 2 take-profit, 3 trailing, -1 open

    def __len__(self) -> int:
        return int(self.entry_index.shape[0])


@dataclass(frozen=True, slots=True)
class SimResult:
    """A finished simulation: trades, equity per candle close, cash at the end."""

    trades: Trades
    equity: FloatArray
    final_equity: float
    final_cash: float
    fees_paid: float
