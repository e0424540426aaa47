"""One symbol's share of a session's account, kept with the backtest's arithmetic.

A session splits its cash evenly between its symbols; each symbol trades its own
sleeve exactly as a backtest of that symbol alone would. The formulas below are
the engine kernel's (`backtest/_kernel.py`), operation for operation, so that a
replay gives the backtest's trades and equity to the last bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from crypto_trader.backtest import _kernel
from crypto_trader.backtest._jit import interpreted
from crypto_trader.backtest.model import EngineConfig, StakeKind

# The kernel's own rules, one call at a time: no compilation, no dispatch.
_budget = interpreted(_kernel._budget)
_protective_exit = interpreted(_kernel._protective_exit)

_STAKE_CODES = {
    StakeKind.ALL: _kernel.STAKE_ALL,
    StakeKind.FRACTION: _kernel.STAKE_FRACTION,
    StakeKind.AMOUNT: _kernel.STAKE_AMOUNT,
}


@dataclass(slots=True)
class Sleeve:
    """Cash, the position and its protective levels, for one symbol."""

    symbol: str
    cash: float
    amount: float = 0.0
    entry_price: float = 0.0
    entry_fee: float = 0.0
    stop: float = 0.0  # 0 when no stop-loss
    target: float = math.inf  # inf when no take-profit
    peak: float = 0.0  # the highest price since entry, for a trailing stop
    watch_from_ms: int = 0  # the first candle whose range the levels watch
    realized_pnl: float = 0.0
    fees: float = 0.0
    trades: int = 0
    last_price: float | None = None
    last_time_ms: int | None = None

    @property
    def long(self) -> bool:
        """Holding a position."""
        return self.amount > 0.0

    def equity(self) -> float:
        """Cash plus the position at the last price."""
        price = self.last_price if self.last_price is not None else self.entry_price
        return self.cash + self.amount * price

    def unrealized_pnl(self) -> float:
        """What selling at the last price without an exit fee would gain."""
        if not self.long or self.last_price is None:
            return 0.0
        cost = self.amount * self.entry_price + self.entry_fee
        return self.amount * self.last_price - cost

    def budget(self, config: EngineConfig) -> float:
        """The quote an entry may spend now, fee included (the kernel's rule)."""
        stake = config.stake
        return float(_budget(self.cash, _STAKE_CODES[stake.kind], stake.value))

    def buy(
        self, price: float, amount: float, fee: float, config: EngineConfig
    ) -> None:
        """Enter at `price` (slippage included) for `amount`, paying `fee`."""
        notional = amount * price
        self.cash = max(self.cash - notional - fee, 0.0)
        self.amount = amount
        self.entry_price = price
        self.entry_fee = fee
        self.fees += fee
        self.trades += 1
        stop_loss, take_profit = config.stop_loss or 0.0, config.take_profit or 0.0
        self.stop = price * (1.0 - stop_loss) if stop_loss > 0.0 else 0.0
        self.target = price * (1.0 + take_profit) if take_profit > 0.0 else math.inf
        self.peak = price

    def add(self, price: float, amount: float, fee: float) -> None:
        """A further fill of an entry already open (a partial fill's rest)."""
        notional = amount * price
        total = self.amount + amount
        self.entry_price = (self.amount * self.entry_price + notional) / total
        self.cash = max(self.cash - notional - fee, 0.0)
        self.amount = total
        self.entry_fee += fee
        self.fees += fee

    def sell(
        self, price: float, amount: float, fee: float, whole: bool = True
    ) -> float:
        """Exit `amount` at `price` (slippage included); returns the trade's PnL.

        `whole` ends the position even if `amount` leaves dust the market's step
        could not sell.
        """
        notional = amount * price
        share = amount / self.amount if self.amount > 0.0 else 1.0
        entry_fee = self.entry_fee if share >= 1.0 else self.entry_fee * share
        cost = amount * self.entry_price + entry_fee
        proceeds = notional - fee
        pnl = proceeds - cost
        self.cash = self.cash + proceeds
        self.realized_pnl += pnl
        self.fees += fee
        remaining = self.amount - amount
        if whole or share >= 1.0 or remaining <= 0.0:
            self.flatten()
        else:
            self.amount = remaining
            self.entry_fee -= entry_fee
        return pnl

    def flatten(self) -> None:
        """No position, no levels."""
        self.amount = 0.0
        self.entry_price = 0.0
        self.entry_fee = 0.0
        self.stop = 0.0
        self.target = math.inf
        self.peak = 0.0

    def protective_exit(
        self, open_: float, high: float, low: float, trailing: float
    ) -> tuple[float, int]:
        """Where a stop or take-profit fills in this candle and why (the kernel's)."""
        trail = self.peak * (1.0 - trailing) if trailing > 0.0 else 0.0
        quote, reason = _protective_exit(
            open_, high, low, self.stop, trail, self.target
        )
        return float(quote), int(reason)


def action(long: bool, entry: bool, exit_: bool) -> int:
    """+1 buy, -1 sell, 0 nothing: the kernel's rule for a decision at a close."""
    if long:
        return -1 if exit_ else 0
    return 1 if entry and not exit_ else 0


EXIT_REASONS = {
    _kernel.EXIT_SIGNAL: "signal",
    _kernel.EXIT_STOP_LOSS: "stop-loss",
    _kernel.EXIT_TAKE_PROFIT: "take-profit",
    _kernel.EXIT_TRAILING: "trailing-stop",
}
EXIT_OPEN = _kernel.EXIT_OPEN
