"""Run one backtest: candles from the store, a strategy, the engine, the metrics.

Also reads the command line's backtest options into an `EngineConfig`, so that
each bad value is refused with one line naming the option and the fix. Nothing
here imports ccxt or the vault: a backtest needs no credentials.
"""

from __future__ import annotations

import inspect
import logging
import math
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crypto_trader.backtest.engine import simulate, with_stops
from crypto_trader.backtest.metrics import Metrics, compute_metrics
from crypto_trader.backtest.model import EngineConfig, Fill, SimResult, Stake, StakeKind
from crypto_trader.backtest.strategies.registry import load_strategy
from crypto_trader.backtest.strategy import Signals, Strategy
from crypto_trader.errors import CryptoTraderError, InputError, NotFoundError
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.candles import Candles
from crypto_trader.market_data.series import SeriesId
from crypto_trader.market_data.timestamps import format_timestamp_ms

log = logging.getLogger(__name__)

STAKE_HINT = "all, a share of equity such as 25%, or a quote amount such as 500"


@dataclass(frozen=True, slots=True)
class Backtest:
    """A finished backtest: what ran, on which candles, and what came out."""

    series: SeriesId
    strategy: Strategy
    config: EngineConfig
    candles: Candles
    signals: Signals
    result: SimResult
    metrics: Metrics

    def to_json(self) -> dict[str, Any]:
        """Strategy, params, series, every metric, the config and the conventions."""
        return {
            "strategy": self.strategy.name,
            "params": dict(self.strategy.values),
            "exchange": self.series.exchange,
            "symbol": str(self.series.symbol),
            "timeframe": str(self.series.timeframe),
            **self.metrics.to_json(),
            "config": config_json(self.config),
            "conventions": conventions(self.config, self.series.symbol.quote),
        }


def run_backtest(
    store: CandleStore,
    series: SeriesId,
    strategy: Strategy,
    config: EngineConfig,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> Backtest:
    """Backtest `strategy` on the stored candles of `series` in [start, end)."""
    candles = load_candles(store, series, start_ms, end_ms)
    return backtest(candles, series, strategy, config)


def backtest(
    candles: Candles, series: SeriesId, strategy: Strategy, config: EngineConfig
) -> Backtest:
    """Backtest `strategy` on `candles`; its stops fill in those `config` lacks."""
    signals = _signals(strategy, candles)
    config = with_stops(config, strategy.stops())
    result = simulate(candles, signals, config)
    metrics = compute_metrics(candles, result, config.cash, series.timeframe.ms)
    return Backtest(series, strategy, config, candles, signals, result, metrics)


def build_strategy(spec: str, params: Mapping[str, str]) -> Strategy:
    """The strategy `spec` names (built-in or path.py:Class) with `params` set.

    Raises InputError naming --strategy or --param, whichever must change.
    """
    try:
        cls = load_strategy(spec)
    except InputError as exc:
        raise InputError(_prefixed("--strategy", str(exc))) from None
    known = [param.name for param in cls.params]
    for name in params:
        if name not in known:
            listed = ", ".join(known) or "none"
            raise InputError(
                f"--param {name}: {cls.name} has no such parameter; "
                f"its parameters: {listed}"
            )
    try:
        return cls(**params)
    except InputError as exc:
        raise InputError(_prefixed("--param", str(exc))) from None


def _signals(strategy: Strategy, candles: Candles) -> Signals:
    """The strategy's signals; its own failure is one line, the details in the log."""
    try:
        return strategy.signals(candles)
    except CryptoTraderError:
        raise
    except Exception as exc:  # a user's strategy may raise anything
        log.exception("strategy %s failed in signals()", strategy.name)
        where = _line_in(exc, inspect.getsourcefile(type(strategy)))
        lines = str(exc).strip().splitlines()
        detail = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
        raise CryptoTraderError(
            f"strategy {strategy.name} failed in signals(){where}: {detail}; the "
            "traceback is in the log under logs/ in the home directory"
        ) from None


def _line_in(exc: BaseException, source: str | None) -> str:
    """` (file.py line N)` for the innermost frame of `exc` in `source`, if any."""
    if source is None:
        return ""
    tb = traceback.extract_tb(exc.__traceback__)
    lines = [frame.lineno for frame in tb if frame.filename == source]
    return f" ({Path(source).name} line {lines[-1]})" if lines else ""


def _prefixed(option: str, message: str) -> str:
    return message if message.startswith(option) else f"{option}: {message}"


def load_candles(
    store: CandleStore,
    series: SeriesId,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> Candles:
    """The stored candles of `series` opening in [start_ms, end_ms)."""
    if not store.exists(series):
        raise NotFoundError(missing_series_text(series))
    candles = store.load(series)
    times = candles.timestamp_ms
    first = 0 if start_ms is None else int(np.searchsorted(times, start_ms, "left"))
    stop = len(times) if end_ms is None else int(np.searchsorted(times, end_ms, "left"))
    if stop <= first:
        raise InputError(
            f"--start/--end: no candles of {series} open in "
            f"{_span_text(start_ms, end_ms)}; it holds "
            f"{format_timestamp_ms(int(times[0]))} .. "
            f"{format_timestamp_ms(int(times[-1]))}"
        )
    if first == 0 and stop == len(times):
        return candles
    return candles.take(slice(first, stop))


def missing_series_text(series: SeriesId) -> str:
    """Say that `series` has no candles, and how to get them."""
    options = (
        f"--exchange {series.exchange} --symbol {series.symbol} "
        f"--timeframe {series.timeframe}"
    )
    return (
        f"no candles stored for {series}; download them with `crypto-trader data "
        f"download {options}` or import a file with `crypto-trader data import "
        f"FILE {options}` (see `crypto-trader data list`)"
    )


def parse_params(assignments: Iterable[str]) -> dict[str, str]:
    """`--param NAME=VALUE` values as a dict; each name at most once."""
    params: dict[str, str] = {}
    for text in assignments:
        name, sign, value = text.partition("=")
        name, value = name.strip(), value.strip()
        if not sign or not name or not value:
            raise InputError(
                f"--param: expected NAME=VALUE such as fast=10, got {text!r}"
            )
        if name in params:
            raise InputError(f"--param {name}: given twice; give each parameter once")
        params[name] = value
    return params


def parse_engine_config(
    cash: str, fee_rate: str, slippage_bps: str, fill: str, stake: str
) -> EngineConfig:
    """The engine settings from the command line's text, each value checked."""
    return EngineConfig(
        cash=_number("--cash", cash, "a positive quote amount such as 10000", 0.0),
        fee_rate=_fee_rate(fee_rate),
        slippage_bps=_slippage(slippage_bps),
        fill=parse_fill(fill),
        stake=parse_stake(stake),
    )


def parse_fill(text: str) -> Fill:
    """`next-open` or `close`."""
    try:
        return Fill(text.strip().lower())
    except ValueError:
        raise InputError(f"--fill: expected next-open or close, got {text!r}") from None


def parse_stake(text: str) -> Stake:
    """`all`, `25%` (a share of equity) or `500` (a quote amount)."""
    value = text.strip().lower()
    if value == "all":
        return Stake()
    if value.endswith("%"):
        share = _number("--stake", value[:-1], STAKE_HINT, 0.0, text)
        if share > 100:
            raise InputError(f"--stake: {text!r} is more than 100% of equity")
        return Stake(StakeKind.FRACTION, share / 100.0)
    return Stake(StakeKind.AMOUNT, _number("--stake", value, STAKE_HINT, 0.0, text))


def stake_text(stake: Stake) -> str:
    """A stake as the command line writes it: all, 25% or 500."""
    if stake.kind is StakeKind.ALL:
        return "all"
    if stake.kind is StakeKind.FRACTION:
        return f"{stake.value * 100:g}%"
    return f"{stake.value:g}"


def config_json(config: EngineConfig) -> dict[str, Any]:
    """The engine settings as JSON values."""
    return {
        "cash": config.cash,
        "fee_rate": config.fee_rate,
        "slippage_bps": config.slippage_bps,
        "fill": config.fill.value,
        "stake": stake_text(config.stake),
        "stop_loss": config.stop_loss,
        "take_profit": config.take_profit,
        "trailing_stop": config.trailing_stop,
    }


def conventions(config: EngineConfig, quote: str) -> list[str]:
    """The market assumptions of a run, in words, for its report and JSON."""
    return [
        "Long-only spot trading, one position at a time. Signals are decided at "
        "each candle's close from candles up to that one only; an entry while in "
        "a position and an exit while flat are ignored, and when both fire on one "
        "candle the exit wins. After a stop, the next entry signal enters again.",
        _fill_text(config.fill),
        _stake_text(config.stake, quote),
        f"Fees: {config.fee_rate * 100:g}% of the notional on each side, entry and "
        "exit.",
        _slippage_text(config.slippage_bps),
        _stops_text(config),
        "Final equity is cash plus any open position valued at the last close, "
        "without an exit fee; the trade count counts entries, an open position "
        "included.",
        "Sharpe and Sortino ratios are annualised over a 365-day year of candles, "
        "with no risk-free rate; drawdown is the % below the running equity peak.",
    ]


def _fill_text(fill: Fill) -> str:
    if fill is Fill.NEXT_OPEN:
        return (
            "Fills: at the open of the candle after the signal (next-open); a "
            "signal on the last candle never fills."
        )
    return "Fills: at the close of the signal's candle (close)."


def _stake_text(stake: Stake, quote: str) -> str:
    if stake.kind is StakeKind.FRACTION:
        return (
            f"Stake: each entry spends {stake.value * 100:g}% of equity, fee included."
        )
    if stake.kind is StakeKind.AMOUNT:
        return (
            f"Stake: each entry spends {stake.value:g} {quote}, fee included, or the "
            "cash if that is less."
        )
    return "Stake: all-in; an entry buys amount = cash / (price * (1 + fee_rate))."


def _slippage_text(slippage_bps: float) -> str:
    if slippage_bps == 0:
        return "Slippage: none; fills at the quoted price."
    return (
        f"Slippage: {slippage_bps:g} bps against every fill, stops included (buys "
        "pay more, sales get less)."
    )


def _stops_text(config: EngineConfig) -> str:
    named = [
        (label, value)
        for label, value in (
            ("stop-loss", config.stop_loss),
            ("take-profit", config.take_profit),
            (
                "trailing stop (below the highest high since entry)",
                config.trailing_stop,
            ),
        )
        if value is not None
    ]
    if not named:
        return "Stops: no stop-loss, take-profit or trailing stop."
    listed = ", ".join(f"{label} {value * 100:g}%" for label, value in named)
    return (
        f"Stops: {listed}, from the entry price; they fill inside a candle from its "
        "high and low, the stop first when a stop and the take-profit could both "
        "have been hit, and at the open when a candle opens through a level. The "
        "trailing stop rises with each candle's high from the next candle on."
    )


def _span_text(start_ms: int | None, end_ms: int | None) -> str:
    start = "the start" if start_ms is None else format_timestamp_ms(start_ms)
    end = "the end" if end_ms is None else format_timestamp_ms(end_ms)
    return f"[{start}, {end})"


def _number(
    option: str, text: str, hint: str, above: float, shown: str | None = None
) -> float:
    """A finite number greater than `above`, or an InputError naming `option`."""
    try:
        value = float(text.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= above:
        raise InputError(f"{option}: expected {hint}, got {shown or text!r}")
    return value


def _fee_rate(text: str) -> float:
    hint = "a fraction per side from 0 to below 1, such as 0.001 for 0.1%"
    value = _number("--fee-rate", text, hint, -math.inf)
    if not 0 <= value < 1:
        raise InputError(f"--fee-rate: expected {hint}, got {text!r}")
    return value


def _slippage(text: str) -> float:
    hint = "basis points from 0 to below 10000, such as 5 for 0.05%"
    value = _number("--slippage-bps", text, hint, -math.inf)
    if not 0 <= value < 10_000:
        raise InputError(f"--slippage-bps: expected {hint}, got {text!r}")
    return value
