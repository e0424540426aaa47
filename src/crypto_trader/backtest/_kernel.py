"""The compiled simulation loop: one pass over the candles, long-only spot.

`engine` states the conventions; each market assumption is also stated here,
where the loop makes it. Because the loop is compiled, the settings and the
trade book are plain float64 arrays indexed by the constants below.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from crypto_trader.backtest._jit import compiled, inlined

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

STAKE_ALL, STAKE_FRACTION, STAKE_AMOUNT = 0, 1, 2
EXIT_OPEN, EXIT_SIGNAL, EXIT_STOP_LOSS, EXIT_TAKE_PROFIT, EXIT_TRAILING = -1, 0, 1, 2, 3

# Settings, fixed for a run.
FEE_RATE, SLIPPAGE, STAKE_KIND, STAKE_VALUE = 0, 1, 2, 3
STOP_LOSS, TAKE_PROFIT, TRAILING_STOP, FILL_AT_CLOSE = 4, 5, 6, 7
SETTINGS_SIZE = 8

# The trade book, one row per entry.
ENTRY_INDEX, EXIT_INDEX, ENTRY_PRICE, EXIT_PRICE, AMOUNT = 0, 1, 2, 3, 4
ENTRY_FEE, EXIT_FEE, PNL, EXIT_REASON = 5, 6, 7, 8
BOOK_COLUMNS = 9

# The account after a fill: the trades so far, the cash, and the position: the amount
# held (0 when flat), the stop-loss level (0 when none), the take-profit level
# (inf when none) and the highest price since entry, which a trailing stop
# follows.
Account = tuple[int, float, float, float, float, float]


@compiled
def run(
    prices: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    entries: BoolArray,
    exits: BoolArray,
    settings: FloatArray,
    cash: float,
    capacity: int,
) -> tuple[FloatArray, FloatArray, float]:
    """Equity at each close, the trade book and the cash at the end.

    `prices` are open, high, low and close. `capacity` bounds the number of
    trades: the number of entry signals does, since each trade needs one.
    """
    # The running state lives in local variables, where the compiler keeps it
    # in registers; the helpers that take arrays are `inlined` into this loop.
    open_, high, low, close = prices
    count = close.shape[0]
    equity = np.empty(count)
    book = np.empty((capacity, BOOK_COLUMNS))
    at_close = settings[FILL_AT_CLOSE] > 0.0
    trailing = settings[TRAILING_STOP]
    trades, amount, stop, target, peak = 0, 0.0, 0.0, np.inf, 0.0
    pending = 0  # decided at the previous close: +1 buy, -1 sell at this open
    for i in range(count):
        if pending != 0:
            trades, cash, amount, stop, target, peak = _fill(
                book, settings, trades, i, open_[i], pending, cash, amount
            )
            pending = 0
        if amount > 0.0:
            trail = peak * (1.0 - trailing) if trailing > 0.0 else 0.0
            quote, reason = _protective_exit(
                open_[i], high[i], low[i], stop, trail, target
            )
            if reason != EXIT_OPEN:
                cash = _sell(book, settings, trades - 1, i, quote, reason, cash, amount)
                amount = 0.0
            else:
                # The high raises the trailing stop from the next candle on: it
                # may have come after the low.
                peak = max(peak, high[i])
        action = _action(amount > 0.0, entries[i], exits[i])
        if action != 0:
            if at_close:
                trades, cash, amount, stop, target, peak = _fill(
                    book, settings, trades, i, close[i], action, cash, amount
                )
            elif i + 1 < count:  # a signal on the last candle never fills
                pending = action
        equity[i] = cash + amount * close[i]
    if amount > 0.0:
        _mark_open(book, trades - 1, amount, close[count - 1])
    return equity, book[:trades].copy(), cash


@compiled
def _action(long: bool, entry: bool, exit_: bool) -> int:
    # The decision at a close: +1 buy, -1 sell, 0 nothing. An exit signal wins
    # over an entry signal on the same candle; an entry while long and an exit
    # while flat do nothing.
    if long:
        return -1 if exit_ else 0
    return 1 if entry and not exit_ else 0


@compiled
def _protective_exit(
    open_: float, high: float, low: float, stop: float, trail: float, target: float
) -> tuple[float, int]:
    # Where a stop, trailing stop or take-profit fills in this candle, and why;
    # EXIT_OPEN when none does. Levels that are off are 0 (stops) and inf.
    level, why = stop, EXIT_STOP_LOSS
    if trail > stop:
        level, why = trail, EXIT_TRAILING
    # The open comes first: a gap through a level fills at the open, not the level.
    if open_ <= level:
        return open_, why
    if open_ >= target:
        return open_, EXIT_TAKE_PROFIT
    # Inside the candle the order of high and low is unknown: the stop is assumed
    # to be hit first when both levels are in its range.
    if low <= level:
        return level, why
    if high >= target:
        return target, EXIT_TAKE_PROFIT
    return 0.0, EXIT_OPEN


@inlined
def _fill(
    book: FloatArray,
    settings: FloatArray,
    trades: int,
    i: int,
    quote: float,
    action: int,
    cash: float,
    amount: float,
) -> Account:
    if action > 0:
        return _buy(book, settings, trades, i, quote, cash)
    cash = _sell(book, settings, trades - 1, i, quote, EXIT_SIGNAL, cash, amount)
    return trades, cash, 0.0, 0.0, np.inf, 0.0


@inlined
def _buy(
    book: FloatArray,
    settings: FloatArray,
    trades: int,
    i: int,
    quote: float,
    cash: float,
) -> Account:
    # Slippage makes a buy dearer; the fee is charged on the notional.
    price = quote * (1.0 + settings[SLIPPAGE])
    fee_rate = settings[FEE_RATE]
    budget = _budget(cash, settings[STAKE_KIND], settings[STAKE_VALUE])
    if not budget > 0.0:
        return trades, cash, 0.0, 0.0, np.inf, 0.0
    amount = budget / (price * (1.0 + fee_rate))
    notional = amount * price
    fee = notional * fee_rate
    book[trades, ENTRY_INDEX] = i
    book[trades, ENTRY_PRICE] = price
    book[trades, AMOUNT] = amount
    book[trades, ENTRY_FEE] = fee
    # Rounding in the all-in formula may leave -1e-12 of cash: spot has no debt.
    cash = max(cash - notional - fee, 0.0)
    stop_loss, take_profit = settings[STOP_LOSS], settings[TAKE_PROFIT]
    stop = price * (1.0 - stop_loss) if stop_loss > 0.0 else 0.0
    target = price * (1.0 + take_profit) if take_profit > 0.0 else np.inf
    return trades + 1, cash, amount, stop, target, price


@compiled
def _budget(cash: float, kind: float, value: float) -> float:
    # The quote an entry spends, fee included; never more than the cash. One
    # position at a time, so equity is the cash when an entry is decided.
    if kind == STAKE_ALL:
        return cash
    if kind == STAKE_FRACTION:
        return cash * value
    return min(value, cash)


@inlined
def _sell(
    book: FloatArray,
    settings: FloatArray,
    row: int,
    i: int,
    quote: float,
    reason: int,
    cash: float,
    amount: float,
) -> float:
    # Slippage makes a sale cheaper; the fee is charged on the notional.
    price = quote * (1.0 - settings[SLIPPAGE])
    notional = amount * price
    fee = notional * settings[FEE_RATE]
    book[row, EXIT_INDEX] = i
    book[row, EXIT_PRICE] = price
    book[row, EXIT_FEE] = fee
    book[row, EXIT_REASON] = reason
    cost = amount * book[row, ENTRY_PRICE] + book[row, ENTRY_FEE]
    proceeds: float = notional - fee
    book[row, PNL] = proceeds - cost
    return cash + proceeds


@inlined
def _mark_open(book: FloatArray, row: int, amount: float, last_close: float) -> None:
    # Still open at the end: valued at the last close, without an exit fee.
    book[row, EXIT_INDEX] = -1
    book[row, EXIT_PRICE] = last_close
    book[row, EXIT_FEE] = 0.0
    book[row, EXIT_REASON] = EXIT_OPEN
    cost = amount * book[row, ENTRY_PRICE] + book[row, ENTRY_FEE]
    book[row, PNL] = amount * last_close - cost
