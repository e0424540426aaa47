"""Candles per second for sma_cross(10, 30): our engine beside the other ways.

Data: 1,000,000 synthetic one-minute candles from numpy's default_rng(42), drawn
in this order: the log returns (standard deviation 0.001) of the closes, which
start at 30,000; each open, the previous close times exp(N(0, 0.0002)) (the
first from 30,000); the high and the low, each 0 to 0.05% outside the larger and
the smaller of open and close. Strategy sma_cross(10, 30), fee 0.1%, all-in,
fills at the next open.

Everything is measured in this one run, side by side and warm: each engine runs
once first (its compile or load time is reported apart), then the engines take
turns for --repeat rounds and each figure is the median. Rows:

- crypto-trader: the strategy's indicators and signals plus the simulation;
- the numpy reference (`crypto_trader.backtest.reference`), the same rules;
- vectorbt, if installed: its moving averages, crossings and from_signals;
- backtesting.py, if installed: its idiomatic SMA crossover strategy in a
  FractionalBacktest on the first 100,000 candles, the rate scaled to them;
- `crypto-trader backtest --json` as a whole process on the series in a store,
  beside a bare Python process that reads the same Parquet file and runs the
  numpy reference.

    python -m bench.backtest_speed [--candles N] [--repeat R] [--no-vectorbt]
                                   [--no-backtesting] [--no-cli] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crypto_trader.backtest import reference
from crypto_trader.backtest.engine import simulate
from crypto_trader.backtest.model import EngineConfig
from crypto_trader.backtest.strategies.sma_cross import SmaCross
from crypto_trader.market_data.candles import Candles, candles_from_arrays

START_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
MINUTE_MS = 60_000
FAST, SLOW = 10, 30
CONFIG = EngineConfig(cash=10_000.0, fee_rate=0.001)
BACKTESTING_SLICE = 100_000
CLI_ROW = "crypto-trader backtest (process)"
BARE_ROW = "bare python: parquet + numpy reference (process)"
TARGETS = {
    "crypto-trader candles/s": 40e6,
    "x numpy reference": 3.0,
    "x vectorbt": 10.0,
    "x backtesting.py": 500.0,
    "whole process vs bare (at most)": 3.0,
}
TRADE_NOTES = {
    "vectorbt": "its orders must be at least 1e-8 units (its default min_size); "
    "once the 0.1% fee on every crossing has drained the account to about 1e-4 "
    "USD an all-in order is smaller and it buys nothing more, though it still "
    "walks every candle (ours has no minimum)",
    "backtesting.py": "its crossover() needs a strict cross between two "
    "consecutive candles and it buys whole fractional units",
    "numpy reference": "the reference should agree",
}
BARE_PROCESS = """
import sys, time
start = time.perf_counter()
import pyarrow.parquet as pq
from crypto_trader.backtest import reference
table = pq.read_table(sys.argv[1], columns=["open", "close"])
opens = table.column("open").to_numpy()
closes = table.column("close").to_numpy()
result = reference.sma_cross(opens, closes, 10, 30, fee_rate=0.001)
print(len(result.entry_index), result.equity[-1])
"""


@dataclass(frozen=True, slots=True)
class Row:
    """One engine's figures."""

    engine: str
    candles: int
    seconds: float
    candles_per_second: float
    first_call_seconds: float | None
    trades: int | None
    note: str = ""


def synthetic_candles(count: int, seed: int = 42) -> Candles:
    """The issue's recipe; see the module docstring for the order of the draws."""
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, count)))
    previous = np.concatenate(([30_000.0], close[:-1]))
    open_ = previous * np.exp(rng.normal(0.0, 0.0002, count))
    high = np.maximum(open_, close) * (1 + rng.uniform(0.0, 0.0005, count))
    low = np.minimum(open_, close) * (1 - rng.uniform(0.0, 0.0005, count))
    times = START_MS + MINUTE_MS * np.arange(count, dtype=np.int64)
    return candles_from_arrays(times, open_, high, low, close, np.ones(count))


def ours(candles: Candles) -> int:
    """Indicators, signals and simulation: everything a backtest computes."""
    strategy = SmaCross(fast=FAST, slow=SLOW)
    return len(simulate(candles, strategy.signals(candles), CONFIG).trades)


def numpy_reference(candles: Candles) -> int:
    """The same rules in vectorised numpy."""
    result = reference.sma_cross(
        candles.open, candles.close, FAST, SLOW, fee_rate=CONFIG.fee_rate
    )
    return len(result.entry_index)


def vectorbt_run(candles: Candles) -> int:
    """vectorbt's own way: MA indicators, crossings, from_signals at the next open."""
    import vectorbt as vbt

    close = candles.close
    fast = vbt.MA.run(close, FAST)
    slow = vbt.MA.run(close, SLOW)
    entries = fast.ma_crossed_above(slow).to_numpy()
    exits = fast.ma_crossed_below(slow).to_numpy()
    # Decided at a close, filled at the next open.
    entries = np.concatenate(([False], entries[:-1]))
    exits = np.concatenate(([False], exits[:-1]))
    portfolio = vbt.Portfolio.from_signals(
        close,
        entries,
        exits,
        price=candles.open,
        fees=CONFIG.fee_rate,
        init_cash=CONFIG.cash,
        size=np.inf,
    )
    return int(portfolio.trades.count())


def backtesting_run(candles: Candles) -> int:
    """backtesting.py's own way: self.I(SMA) and crossover() in next()."""
    import pandas as pd
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest, crossover

    def sma(values: Any, window: int) -> Any:
        return pd.Series(values).rolling(window).mean()

    class SmaCrossover(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, FAST)
            self.slow = self.I(sma, self.data.Close, SLOW)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                if not self.position:
                    self.buy()
            elif crossover(self.slow, self.fast) and self.position:
                self.position.close()

    frame = pd.DataFrame(
        {
            "Open": candles.open,
            "High": candles.high,
            "Low": candles.low,
            "Close": candles.close,
            "Volume": candles.volume,
        },
        index=pd.to_datetime(candles.timestamp_ms, unit="ms"),
    )
    backtest = FractionalBacktest(
        frame, SmaCrossover, cash=CONFIG.cash, commission=CONFIG.fee_rate
    )
    stats = backtest.run()
    return len(stats["_trades"]) + len(stats["_strategy"].trades)


def compile_seconds() -> float:
    """Our kernels compiled from nothing, in a child with an empty numba cache."""
    script = (
        "import time, numpy as np\n"
        "from bench.backtest_speed import ours, synthetic_candles\n"
        "candles = synthetic_candles(1000)\n"
        "start = time.perf_counter(); ours(candles)\n"
        "print(time.perf_counter() - start)\n"
    )
    with tempfile.TemporaryDirectory() as cache:
        root = str(Path(__file__).resolve().parents[1])
        env = os.environ | {"NUMBA_CACHE_DIR": cache, "PYTHONPATH": root}
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, check=True, capture_output=True
        )
    return float(out.stdout.decode().split()[-1])


def timed(run: Callable[[Candles], int], candles: Candles) -> tuple[float, int]:
    """Seconds for one call, and the trades it found."""
    start = time.perf_counter()
    trades = run(candles)
    return time.perf_counter() - start, trades


def measure(
    engines: dict[str, tuple[Callable[[Candles], int], Candles]], repeat: int
) -> list[Row]:
    """Warm each engine once, then take turns; the median of each engine's turns."""
    first: dict[str, float] = {}
    trades: dict[str, int] = {}
    for name, (run, candles) in engines.items():
        first[name], trades[name] = timed(run, candles)
    turns: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeat):
        for name, (run, candles) in engines.items():
            turns[name].append(timed(run, candles)[0])
    rows = []
    full = len(engines["crypto-trader"][1])
    for name, (_, candles) in engines.items():
        seconds = statistics.median(turns[name])
        rate = len(candles) / seconds
        note = trade_note(name, candles, trades[name], full)
        rows.append(
            Row(name, len(candles), seconds, rate, first[name], trades[name], note)
        )
    return rows


def trade_note(name: str, candles: Candles, trades: int, full: int) -> str:
    """Why an engine's trade count may differ from ours on the same candles."""
    expected = ours(candles)
    scaled = len(candles) < full
    notes = [f"on the first {len(candles):,} candles, rate scaled"] if scaled else []
    if trades != expected:
        notes.append(f"ours finds {expected:,} trades here: {TRADE_NOTES[name]}")
    return "; ".join(notes)


def whole_process(candles: Candles, repeat: int) -> list[Row]:
    """`crypto-trader backtest --json` beside a bare reader of the same file."""
    from crypto_trader.home import Home
    from crypto_trader.market_data.candle_store import CandleStore
    from crypto_trader.market_data.series import series_id

    series = series_id("binance", "BTC/USDT", "1m")
    with tempfile.TemporaryDirectory() as folder:
        home = Home(Path(folder) / "home").ensure()
        store = CandleStore.for_home(home)
        store.merge(series, candles)
        env = os.environ | {"CRYPTO_TRADER_HOME": str(home.root)}
        command = [sys.executable, "-m", "crypto_trader", "backtest"]
        command += ["--strategy", "sma_cross", "--exchange", "binance"]
        command += ["--symbol", "BTC/USDT", "--timeframe", "1m", "--json"]
        probe = subprocess.run(command, env=env, capture_output=True, check=False)
        if probe.returncode != 0:
            error = (probe.stderr.decode().strip().splitlines() or ["no output"])[-1]
            note = f"skipped: the command failed: {error}"
            return [Row(CLI_ROW, len(candles), 0, 0, None, None, note)]
        cli_trades = int(json.loads(probe.stdout)["trades"])
        bare = [sys.executable, "-c", BARE_PROCESS, str(store.path(series))]
        subprocess.run(bare, env=env, capture_output=True, check=True)
        turns: dict[str, list[float]] = {"cli": [], "bare": []}
        for _ in range(repeat):
            for name, argv in (("cli", command), ("bare", bare)):
                start = time.perf_counter()
                subprocess.run(argv, env=env, capture_output=True, check=True)
                turns[name].append(time.perf_counter() - start)
    rows = []
    for name, label, trades in (
        ("cli", CLI_ROW, cli_trades),
        ("bare", BARE_ROW, None),
    ):
        seconds = statistics.median(turns[name])
        rows.append(
            Row(label, len(candles), seconds, len(candles) / seconds, None, trades)
        )
    return rows


def installed(module: str) -> bool:
    """Whether an optional engine can be imported."""
    return importlib.util.find_spec(module) is not None


def verdicts(rows: list[Row]) -> dict[str, dict[str, object]]:
    """Each target, the figure measured for it and whether it is met."""
    by_name = {row.engine: row for row in rows if row.seconds > 0}
    ours_row = by_name["crypto-trader"]
    figures: dict[str, float | None] = {
        "crypto-trader candles/s": ours_row.candles_per_second,
        "x numpy reference": ratio(ours_row, by_name.get("numpy reference")),
        "x vectorbt": ratio(ours_row, by_name.get("vectorbt")),
        "x backtesting.py": ratio(ours_row, by_name.get("backtesting.py")),
    }
    cli = by_name.get(CLI_ROW)
    bare = by_name.get(BARE_ROW)
    figures["whole process vs bare (at most)"] = (
        cli.seconds / bare.seconds if cli and bare else None
    )
    result: dict[str, dict[str, object]] = {}
    for name, target in TARGETS.items():
        figure = figures[name]
        at_most = "at most" in name
        met = (
            None
            if figure is None
            else (figure <= target if at_most else figure >= target)
        )
        result[name] = {"target": target, "figure": figure, "met": met}
    return result


def ratio(ours_row: Row, other: Row | None) -> float | None:
    """How many times faster ours is, in candles per second."""
    return (
        None
        if other is None
        else ours_row.candles_per_second / other.candles_per_second
    )


def print_report(
    rows: list[Row], targets: dict[str, dict[str, object]], compile_s: float
) -> None:
    """A table of the rows, then the targets."""
    header = f"{'engine':<50} {'candles':>10} {'seconds':>9} {'candles/s':>12}"
    print(f"{header} {'first call':>10} {'trades':>7}")
    for row in rows:
        if row.seconds == 0:
            print(f"{row.engine:<50} {row.note}")
            continue
        first = (
            "" if row.first_call_seconds is None else f"{row.first_call_seconds:.3f}"
        )
        trades = "" if row.trades is None else str(row.trades)
        print(
            f"{row.engine:<50} {row.candles:>10,} {row.seconds:>9.4f} "
            f"{row.candles_per_second:>12,.0f} {first:>10} {trades:>7}"
        )
        if row.note:
            print(f"    {row.note}")
    print(f"our kernels compiled from nothing: {compile_s:.1f} s (then cached on disk)")
    print()
    for name, verdict in targets.items():
        figure = verdict["figure"]
        shown = "not measured" if figure is None else f"{figure:,.1f}"
        state = {True: "met", False: "MISSED", None: "-"}[verdict["met"]]  # type: ignore[index]
        target = f"target {verdict['target']:>12,.1f}"
        print(f"{name:<36} {target}  measured {shown:>14}  {state}")


def main(argv: list[str] | None = None) -> int:
    """Measure; exit 1 if a measured target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-vectorbt", action="store_true")
    parser.add_argument("--no-backtesting", action="store_true")
    parser.add_argument("--no-cli", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar

    candles = synthetic_candles(args.candles)
    engines: dict[str, tuple[Callable[[Candles], int], Candles]] = {
        "crypto-trader": (ours, candles),
        "numpy reference": (numpy_reference, candles),
    }
    skipped: list[Row] = []
    for name, module, run, part, wanted in (
        ("vectorbt", "vectorbt", vectorbt_run, candles, not args.no_vectorbt),
        ("backtesting.py", "backtesting", backtesting_run,
         candles.take(slice(0, BACKTESTING_SLICE)), not args.no_backtesting),
    ):  # fmt: skip
        if wanted and installed(module):
            engines[name] = (run, part)
        else:
            note = "skipped: not installed" if wanted else "skipped: not asked for"
            skipped.append(Row(name, 0, 0, 0, None, None, note))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = measure(engines, args.repeat) + skipped
    if not args.no_cli:
        rows += whole_process(candles, max(3, args.repeat // 2))
    compile_s = compile_seconds()
    targets = verdicts(rows)

    if args.json:
        payload = {
            "candles": len(candles),
            "strategy": f"sma_cross({FAST}, {SLOW})",
            "repeat": args.repeat,
            "compile_seconds": compile_s,
            "rows": [asdict(row) for row in rows],
            "targets": targets,
        }
        print(json.dumps(payload, indent=2))
    else:
        print_report(rows, targets, compile_s)
    return 1 if any(v["met"] is False for v in targets.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
