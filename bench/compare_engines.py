"""Our engine beside backtesting.py and vectorbt, on the bundled BTC/USD 1h sample.

Each case runs the same signals (sma_cross's) through our engine, the numpy
reference, backtesting.py's FractionalBacktest and vectorbt's
Portfolio.from_signals, set up to follow our conventions as closely as each
allows. A row matches when it has the same trade count and a final equity
within 1e-6 of ours; where a convention cannot be matched the row says which
and why. backtesting.py and vectorbt are optional (`pip install
crypto-trader[bench]`); a missing one is skipped with a note.

    python -m bench.compare_engines [--fast 10] [--slow 30] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from crypto_trader.backtest import reference
from crypto_trader.backtest.engine import simulate
from crypto_trader.backtest.model import EngineConfig, Fill
from crypto_trader.backtest.strategies.sma_cross import SmaCross
from crypto_trader.backtest.strategy import Signals
from crypto_trader.market_data.candles import Candles
from crypto_trader.market_data.samples import sample_series

TOLERANCE = 1e-6
# Whole units of 1e-10 BTC: rounding each order to them moves equity by less
# than 1e-9, far inside the tolerance (the default unit, a satoshi, also fits).
FRACTIONAL_UNIT = 1e-10


@dataclass(frozen=True, slots=True)
class Case:
    """One comparison: engine settings and what each other engine cannot match."""

    name: str
    config: EngineConfig
    differs: dict[str, str] = field(default_factory=dict)  # always, and why
    rarely: dict[str, str] = field(default_factory=dict)  # on rare candles only


@dataclass(frozen=True, slots=True)
class Outcome:
    """One engine's result for a case."""

    engine: str
    trades: int | None
    final_equity: float | None
    seconds: float
    relative_difference: float | None = None
    verdict: str = ""
    note: str = ""


CASES = (
    Case("all-in, fee 0.1%, next-open", EngineConfig(fee_rate=0.001)),
    Case("all-in, fee 0.1%, close", EngineConfig(fee_rate=0.001, fill=Fill.CLOSE)),
    Case(
        "all-in, fee 0.1%, slippage 5 bps, next-open",
        EngineConfig(fee_rate=0.001, slippage_bps=5.0),
        {
            "backtesting.py": "its spread is charged once, on the entry price (exits "
            "fill at the bare price); our slippage worsens both fills",
        },
    ),
    Case(
        "stop-loss 3%, take-profit 6%, close",
        EngineConfig(fee_rate=0.001, fill=Fill.CLOSE, stop_loss=0.03, take_profit=0.06),
        rarely={
            name: "when a candle opens above the take-profit and then falls through "
            f"the stop, {name} takes the stop (it checks the stop first); we take "
            "the take-profit at the open, which came first"
            for name in ("backtesting.py", "vectorbt")
        },
    ),
    Case(
        "stop-loss 3%, take-profit 6%, next-open",
        EngineConfig(fee_rate=0.001, stop_loss=0.03, take_profit=0.06),
        {
            "backtesting.py": "stops are set once the entry price is known, so they "
            "protect from the candle after the entry; ours also check the entry "
            "candle, which opened at the entry price",
            "vectorbt": "a stop is never processed on the candle of its entry, and "
            "on a candle whose open fills an exit signal from the previous close, "
            "a stop or take-profit reached later in the candle takes the exit "
            "instead; ours check the entry candle and exit at that open, which "
            "comes first",
        },
    ),
    Case(
        "trailing stop 5%, close",
        EngineConfig(fee_rate=0.001, fill=Fill.CLOSE, trailing_stop=0.05),
        {"backtesting.py": "it has no trailing stop order; not compared"},
    ),
)


def our_engine(candles: Candles, signals: Signals, config: EngineConfig) -> Outcome:
    """Our engine."""
    start = time.perf_counter()
    result = simulate(candles, signals, config)
    seconds = time.perf_counter() - start
    return Outcome("crypto-trader", len(result.trades), result.final_equity, seconds)


def numpy_reference(
    candles: Candles, fast: int, slow: int, config: EngineConfig
) -> Outcome | None:
    """The plain numpy reference; it has no stops."""
    if config.stop_loss or config.take_profit or config.trailing_stop:
        return None
    start = time.perf_counter()
    result = reference.sma_cross(
        candles.open,
        candles.close,
        fast,
        slow,
        cash=config.cash,
        fee_rate=config.fee_rate,
        slippage_bps=config.slippage_bps,
        fill_at_close=config.fill == Fill.CLOSE,
    )
    seconds = time.perf_counter() - start
    equity = float(result.equity[-1])
    return Outcome("numpy reference", len(result.entry_index), equity, seconds)


def backtesting_py(candles: Candles, signals: Signals, config: EngineConfig) -> Outcome:
    """backtesting.py's FractionalBacktest on the same signals."""
    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bar on stderr
    from backtesting.lib import FractionalBacktest

    frame = price_frame(candles)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        backtest = FractionalBacktest(
            frame,
            backtesting_strategy(signals, config),
            cash=config.cash,
            commission=config.fee_rate,
            spread=config.slippage_bps / 10_000,
            trade_on_close=config.fill == Fill.CLOSE,
            fractional_unit=FRACTIONAL_UNIT,
        )
        stats = backtest.run()
    seconds = time.perf_counter() - start
    trades = len(stats["_trades"]) + len(stats["_strategy"].trades)
    return Outcome("backtesting.py", trades, float(stats["Equity Final [$]"]), seconds)


def price_frame(candles: Candles) -> Any:
    """The candles as the pandas frame backtesting.py reads."""
    import pandas as pd

    columns = {
        "Open": candles.open,
        "High": candles.high,
        "Low": candles.low,
        "Close": candles.close,
        "Volume": candles.volume,
    }
    return pd.DataFrame(columns, index=pd.to_datetime(candles.timestamp_ms, unit="ms"))


@dataclass(frozen=True, slots=True)
class StopLevels:
    """Our stop fractions as the prices backtesting.py's orders take."""

    stop_loss: float | None
    take_profit: float | None

    def at(self, entry_price: float) -> tuple[float | None, float | None]:
        """The stop-loss and take-profit prices for an entry at `entry_price`."""
        stop = entry_price * (1 - self.stop_loss) if self.stop_loss else None
        target = entry_price * (1 + self.take_profit) if self.take_profit else None
        return stop, target

    def protect(self, trade: Any) -> None:
        """Give an open trade the stops it lacks."""
        stop, target = self.at(trade.entry_price)
        if stop and trade.sl is None:
            trade.sl = stop
        if target and trade.tp is None:
            trade.tp = target


def backtesting_strategy(signals: Signals, config: EngineConfig) -> type:
    """A backtesting.py strategy that trades our signals under our stops."""
    from backtesting import Strategy as BacktestingStrategy

    entries, exits = signals.entries, signals.exits
    levels = StopLevels(config.stop_loss, config.take_profit)
    at_close = config.fill == Fill.CLOSE
    spread = config.slippage_bps / 10_000

    class FromSignals(BacktestingStrategy):  # type: ignore[misc]
        def init(self) -> None:
            self.entry = self.I(lambda: entries.astype(float), name="entry", plot=False)
            self.exit = self.I(lambda: exits.astype(float), name="exit", plot=False)

        def next(self) -> None:
            # Stops are prices here. At the close the entry price is known and
            # they go with the order; for the next open they are set on the
            # candle after the fill, the first time the strategy sees the trade.
            for trade in self.trades:
                levels.protect(trade)
            if self.position:
                if self.exit[-1]:
                    self.position.close()
            elif self.entry[-1] and not self.exit[-1]:
                if at_close:
                    stop, target = levels.at(self.data.Close[-1] * (1 + spread))
                    self.buy(sl=stop, tp=target)
                else:
                    self.buy()

    return FromSignals


def vectorbt(candles: Candles, signals: Signals, config: EngineConfig) -> Outcome:
    """vectorbt's Portfolio.from_signals on the same signals."""
    import pandas as pd
    import vectorbt as vbt
    from vectorbt.portfolio.enums import StopEntryPrice, StopExitPrice

    entries, exits, price = signals.entries, signals.exits, candles.close
    if config.fill == Fill.NEXT_OPEN:
        # vectorbt fills on the candle of the signal: move the signals one
        # candle on and fill at that candle's open.
        entries = np.concatenate(([False], entries[:-1]))
        exits = np.concatenate(([False], exits[:-1]))
        price = candles.open
    index = pd.to_datetime(candles.timestamp_ms, unit="ms")
    stop_loss = config.trailing_stop or config.stop_loss
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        portfolio = vbt.Portfolio.from_signals(
            pd.Series(candles.close, index=index),
            pd.Series(entries, index=index),
            pd.Series(exits, index=index),
            price=pd.Series(price, index=index),
            open=candles.open,
            high=candles.high,
            low=candles.low,
            fees=config.fee_rate,
            slippage=config.slippage_bps / 10_000,
            init_cash=config.cash,
            size=np.inf,
            sl_stop=stop_loss if stop_loss else np.nan,
            sl_trail=bool(config.trailing_stop),
            tp_stop=config.take_profit if config.take_profit else np.nan,
            stop_entry_price=StopEntryPrice.FillPrice,
            stop_exit_price=StopExitPrice.StopMarket,
            freq="1h",
        )
        trades = int(portfolio.trades.count())
        final_equity = float(portfolio.final_value())
    seconds = time.perf_counter() - start
    return Outcome("vectorbt", trades, final_equity, seconds)


OTHERS: dict[str, tuple[str, Callable[[Candles, Signals, EngineConfig], Outcome]]] = {
    "backtesting.py": ("backtesting", backtesting_py),
    "vectorbt": ("vectorbt", vectorbt),
}


def installed(module: str) -> bool:
    """Whether an optional engine can be imported."""
    return importlib.util.find_spec(module) is not None


def judged(outcome: Outcome, ours: Outcome, reason: str | None) -> Outcome:
    """`outcome` with its difference from ours and a verdict."""
    assert ours.final_equity is not None
    if outcome.final_equity is None:
        return outcome
    difference = abs(outcome.final_equity / ours.final_equity - 1)
    same = outcome.trades == ours.trades and difference <= TOLERANCE
    verdict = "match" if same else ("differs" if reason else "MISMATCH")
    note = "" if same else (reason or "conventions should match here")
    return replace(outcome, relative_difference=difference, verdict=verdict, note=note)


def compare(
    case: Case, candles: Candles, fast: int, slow: int, engines: list[str]
) -> list[Outcome]:
    """Every engine's outcome for one case, ours first."""
    signals = SmaCross(fast=fast, slow=slow).signals(candles)
    ours = our_engine(candles, signals, case.config)
    rows = [ours]
    numpy_row = numpy_reference(candles, fast, slow, case.config)
    if numpy_row is not None:
        rows.append(judged(numpy_row, ours, None))
    for name in engines:
        module, run = OTHERS[name]
        if not installed(module):
            rows.append(
                Outcome(name, None, None, 0.0, verdict="skipped", note="not installed")
            )
            continue
        if case.differs.get(name, "").endswith("not compared"):
            rows.append(
                Outcome(name, None, None, 0.0, verdict="n/a", note=case.differs[name])
            )
            continue
        reason = case.differs.get(name) or case.rarely.get(name)
        rows.append(judged(run(candles, signals, case.config), ours, reason))
    return rows


def print_table(results: dict[str, list[Outcome]]) -> None:
    """The outcomes as a text table, with the reasons under it."""
    header = f"{'case / engine':<46} {'trades':>6} {'final equity':>14}"
    print(f"{header} {'rel diff':>9}  verdict")
    for case, rows in results.items():
        print(case)
        for row in rows:
            trades = "-" if row.trades is None else str(row.trades)
            equity = "-" if row.final_equity is None else f"{row.final_equity:,.6f}"
            diff = (
                ""
                if row.relative_difference is None
                else f"{row.relative_difference:.1e}"
            )
            print(
                f"  {row.engine:<44} {trades:>6} {equity:>14} {diff:>9}  {row.verdict}"
            )
            if row.note:
                print(f"      why: {row.note}")


def main(argv: list[str] | None = None) -> int:
    """Run every case; exit 1 if a row that should match does not."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", type=int, default=10)
    parser.add_argument("--slow", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    candles = sample_series()
    engines = list(OTHERS)
    results = {
        case.name: compare(case, candles, args.fast, args.slow, engines)
        for case in CASES
    }

    if args.json:
        payload: dict[str, Any] = {
            "candles": len(candles),
            "strategy": f"sma_cross({args.fast}, {args.slow})",
            "tolerance": TOLERANCE,
            "cases": {
                name: [asdict(row) for row in rows] for name, rows in results.items()
            },
        }
        print(json.dumps(payload, indent=2))
    else:
        strategy = f"sma_cross({args.fast}, {args.slow})"
        print(f"{strategy} on {len(candles):,} candles of the bundled sample")
        print_table(results)
    failed = any(row.verdict == "MISMATCH" for rows in results.values() for row in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
