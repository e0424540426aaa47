"""The backtest engine: signals and candles in, trades and equity out.

Conventions (also in CONVENTIONS, for the README and every report):

- Long-only spot, one position at a time. A signal is decided at a candle's
  close; it fills at the next candle's open (`next-open`, the default) or at that
  close (`close`). Under `next-open` a signal on the last candle never fills.
- Slippage, in basis points, makes every fill worse: buys dearer, sales cheaper;
  stops and take-profits included. The fee is `fee_rate` of the notional, per
  side, paid in quote.
- Stake: all-in buys `amount = cash / (price * (1 + fee_rate))`; a fraction
  spends that fraction of equity, fee included; an amount spends that much quote,
  fee included, or the cash if that is less. Equity is the cash when flat.
- Stop-loss and take-profit levels are fractions of the entry price (after
  slippage); the trailing stop is a fraction below the highest price since entry.
  They fill inside a candle from its high and low: when both a stop and the
  take-profit lie in a candle's range the stop is assumed hit first. A candle
  that opens through a level fills at its open. A candle's high raises the
  trailing stop from the next candle on. Under `next-open` the entry candle is
  checked (the fill came at its open); under `close` checks start after it.
- An exit signal wins over an entry signal on the same candle; an entry while
  long and an exit while flat do nothing. After a stop, the next entry signal
  enters again.
- `trades` counts entries, a position still open at the end included; that
  position is valued at the last close without an exit fee, and `final_equity`
  is the cash plus that value.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from crypto_trader.backtest import _kernel
from crypto_trader.backtest.indicators import as_input
from crypto_trader.backtest.model import (
    EngineConfig,
    Fill,
    SimResult,
    StakeKind,
    Trades,
)
from crypto_trader.backtest.strategy import Signals, Stops
from crypto_trader.errors import InputError
from crypto_trader.market_data.candles import Candles

CONVENTIONS = (
    "Long only, one position at a time; signals are decided at a candle's close.",
    "Fills at the next candle's open (next-open) or at the signal candle's close "
    "(close); a signal on the last candle never fills under next-open.",
    "Slippage worsens every fill (buys dearer, sales cheaper); the fee rate is "
    "charged per side on the notional.",
    "All-in buys amount = cash / (price * (1 + fee_rate)); a fraction or amount "
    "stake includes the fee.",
    "Stops and take-profits fill inside a candle from its high and low; the stop "
    "is assumed first when both could be hit; a gap through a level fills at the "
    "open; the trailing stop follows the highest high since entry.",
    "An exit signal wins over an entry signal on the same candle.",
    "Trades counts entries, an open position included; final equity values an "
    "open position at the last close without an exit fee.",
)

_STAKE_CODES = {
    StakeKind.ALL: _kernel.STAKE_ALL,
    StakeKind.FRACTION: _kernel.STAKE_FRACTION,
    StakeKind.AMOUNT: _kernel.STAKE_AMOUNT,
}


def simulate(candles: Candles, signals: Signals, config: EngineConfig) -> SimResult:
    """Run the signals over the candles under `config`; see the module's rules.

    Raises InputError for a setting out of range or signals of the wrong length.
    """
    check_config(config)
    entries = _signal_array(signals.entries, "entries", len(candles))
    exits = _signal_array(signals.exits, "exits", len(candles))

    prices = (
        as_input(candles.open),
        as_input(candles.high),
        as_input(candles.low),
        as_input(candles.close),
    )
    capacity = int(np.count_nonzero(entries))
    equity, book, cash = _kernel.run(
        prices, entries, exits, _settings(config), float(config.cash), capacity
    )

    trades = _trades(book)
    fees = float(trades.entry_fee.sum() + trades.exit_fee.sum())
    final_equity = float(equity[-1]) if len(equity) else float(config.cash)
    return SimResult(trades, equity, final_equity, float(cash), fees)


def with_stops(config: EngineConfig, stops: Stops) -> EngineConfig:
    """`config` with the strategy's stops where the config sets none."""
    return replace(
        config,
        stop_loss=_first(config.stop_loss, stops.stop_loss),
        take_profit=_first(config.take_profit, stops.take_profit),
        trailing_stop=_first(config.trailing_stop, stops.trailing_stop),
    )


def check_config(config: EngineConfig) -> None:
    """Refuse settings the engine cannot honour; raises InputError naming the fix."""
    _require(
        0 < config.cash < math.inf, f"cash must be an amount above 0, got {config.cash}"
    )
    _require(
        0 <= config.fee_rate < 1,
        f"fee rate must be from 0 to below 1 (0.001 = 0.1%), got {config.fee_rate}",
    )
    _require(
        0 <= config.slippage_bps < 10_000,
        f"slippage must be from 0 to below 10000 bps, got {config.slippage_bps}",
    )
    _require(
        config.fill in (Fill.NEXT_OPEN, Fill.CLOSE),
        f"fill must be next-open or close, got {config.fill!r}",
    )
    _check_stake(config)
    for name, value, high in (
        ("stop-loss", config.stop_loss, 1.0),
        ("take-profit", config.take_profit, math.inf),
        ("trailing stop", config.trailing_stop, 1.0),
    ):
        _require(
            value is None or 0 < value < high,
            f"{name} must be a fraction above 0"
            + (f" and below {high:g}" if high < math.inf else "")
            + f" (0.05 = 5%), got {value}",
        )


def _check_stake(config: EngineConfig) -> None:
    stake = config.stake
    _require(stake.kind in _STAKE_CODES, f"unknown stake kind {stake.kind!r}")
    if stake.kind == StakeKind.FRACTION:
        _require(
            0 < stake.value <= 1,
            f"a stake fraction must be above 0% and at most 100%, got {stake.value}",
        )
    elif stake.kind == StakeKind.AMOUNT:
        _require(
            0 < stake.value < math.inf,
            f"a stake amount must be above 0, got {stake.value}",
        )


def _require(condition: bool, message: str) -> None:
    # `not` so that NaN, which compares false with everything, is refused too.
    if not condition:
        raise InputError(message)


def _first(chosen: float | None, fallback: float | None) -> float | None:
    return fallback if chosen is None else chosen


def _signal_array(
    values: npt.ArrayLike, name: str, count: int
) -> npt.NDArray[np.bool_]:
    array = np.ascontiguousarray(values)
    if array.shape != (count,):
        raise InputError(
            f"strategy signals: {name} has shape {array.shape}, "
            f"expected one value per candle ({count})"
        )
    if array.dtype != np.bool_:
        raise InputError(
            f"strategy signals: {name} must be booleans, got {array.dtype}"
        )
    if array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


def _settings(config: EngineConfig) -> npt.NDArray[np.float64]:
    settings = np.zeros(_kernel.SETTINGS_SIZE)
    settings[_kernel.FEE_RATE] = config.fee_rate
    settings[_kernel.SLIPPAGE] = config.slippage_bps / 10_000
    settings[_kernel.STAKE_KIND] = _STAKE_CODES[config.stake.kind]
    settings[_kernel.STAKE_VALUE] = config.stake.value
    settings[_kernel.STOP_LOSS] = config.stop_loss or 0.0
    settings[_kernel.TAKE_PROFIT] = config.take_profit or 0.0
    settings[_kernel.TRAILING_STOP] = config.trailing_stop or 0.0
    settings[_kernel.FILL_AT_CLOSE] = float(config.fill == Fill.CLOSE)
    settings.flags.writeable = False
    return settings


def _trades(book: npt.NDArray[np.float64]) -> Trades:
    def floats(column: int) -> npt.NDArray[np.float64]:
        return np.ascontiguousarray(book[:, column])

    def ints(column: int) -> npt.NDArray[np.int64]:
        return book[:, column].astype(np.int64)

    return Trades(
        entry_index=ints(_kernel.ENTRY_INDEX),
        exit_index=ints(_kernel.EXIT_INDEX),
        entry_price=floats(_kernel.ENTRY_PRICE),
        exit_price=floats(_kernel.EXIT_PRICE),
        amount=floats(_kernel.AMOUNT),
        entry_fee=floats(_kernel.ENTRY_FEE),
        exit_fee=floats(_kernel.EXIT_FEE),
        pnl=floats(_kernel.PNL),
        exit_reason=ints(_kernel.EXIT_REASON),
    )
