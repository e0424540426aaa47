"""The data an HTML report draws: one plain dict of JSON values per backtest.

The shape, which `crypto_trader.backtest.html_report.write_report` relies on::

    {
      "title": str,                       # strategy, params, series and span
      "conventions": [str, ...],          # fills, fees, slippage, stops, stake
      "metrics": [{"label": str, "value": float | int | str | None}, ...],
      "candles": {                        # one entry per candle, oldest first
        "time": [int, ...],               # open time, UTC epoch seconds
        "open": [float, ...], "high": [...], "low": [...], "close": [...],
      },
      "indicators": {name: [float | None, ...]},  # per candle; None = undefined
      "equity": [float, ...],             # per candle close, quote currency
      "drawdown_pct": [float, ...],       # per candle, >= 0, % below the peak
      "trades": [{
        "entry_time": int,                # open time (s) of the candle it filled in
        "exit_time": int | None,          # the same for the exit; None while open
        "entry_price": float,
        "exit_price": float | None,       # None while open
        "amount": float,                  # base units
        "pnl": float,                     # quote, after fees; open: at the last
                                          # close, without an exit fee
        "pnl_pct": float,                 # % of the entry's cost, fee included
        "exit_reason": "signal" | "stop-loss" | "take-profit" | "trailing-stop"
                       | "open",
      }, ...],
    }

Every float is finite or None: NaN never reaches the report.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from crypto_trader.backtest.metrics import drawdown_pct
from crypto_trader.backtest.model import FloatArray, Trades
from crypto_trader.backtest.runner import Backtest, conventions
from crypto_trader.market_data.candles import Candles

EXIT_REASONS = {
    0: "signal",
    1: "stop-loss",
    2: "take-profit",
    3: "trailing-stop",
    -1: "open",
}


def report_data(run: Backtest) -> dict[str, Any]:
    """The report's data for a finished backtest."""
    quote = run.series.symbol.quote
    return {
        "title": report_title(run),
        "conventions": conventions(run.config, quote),
        "metrics": [
            {"label": label, "value": value}
            for label, value in run.metrics.labelled(quote)
        ],
        "candles": candle_columns(run.candles),
        "indicators": {
            name: finite_list(values) for name, values in run.signals.indicators.items()
        },
        "equity": finite_list(run.result.equity),
        "drawdown_pct": finite_list(drawdown_pct(run.result.equity, run.config.cash)),
        "trades": trade_rows(run.result.trades, run.candles),
    }


def report_title(run: Backtest) -> str:
    """`sma_cross(fast=10, slow=30) on coinbase BTC/USD 1h, START .. END`."""
    return f"{run.strategy!r} on {run.series}, {run.metrics.start} .. {run.metrics.end}"


def candle_columns(candles: Candles) -> dict[str, list[Any]]:
    """Open times in epoch seconds and the prices, as lists."""
    return {
        "time": (candles.timestamp_ms // 1000).tolist(),
        "open": candles.open.tolist(),
        "high": candles.high.tolist(),
        "low": candles.low.tolist(),
        "close": candles.close.tolist(),
    }


def trade_rows(trades: Trades, candles: Candles) -> list[dict[str, Any]]:
    """One dict per trade; an open one has no exit and is valued at the last close."""
    seconds = candles.timestamp_ms // 1000
    rows = []
    for i in range(len(trades)):
        is_open = int(trades.exit_index[i]) < 0
        amount = float(trades.amount[i])
        cost = float(trades.entry_price[i]) * amount + float(trades.entry_fee[i])
        pnl = float(trades.pnl[i])
        rows.append(
            {
                "entry_time": int(seconds[trades.entry_index[i]]),
                "exit_time": None if is_open else int(seconds[trades.exit_index[i]]),
                "entry_price": float(trades.entry_price[i]),
                "exit_price": None if is_open else _finite(trades.exit_price[i]),
                "amount": amount,
                "pnl": _finite(pnl),
                "pnl_pct": _finite(pnl / cost * 100.0) if cost > 0 else None,
                "exit_reason": EXIT_REASONS[int(trades.exit_reason[i])],
            }
        )
    return rows


def finite_list(values: FloatArray) -> list[float | None]:
    """The values as a list, None where a value is NaN or infinite."""
    array = np.asarray(values, dtype=np.float64)
    listed: list[float | None] = array.tolist()
    if not np.all(np.isfinite(array)):
        bad = np.flatnonzero(~np.isfinite(array)).tolist()
        for index in bad:
            listed[index] = None
    return listed


def _finite(value: float | np.floating[Any]) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None
