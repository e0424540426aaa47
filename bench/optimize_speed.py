"""`optimize` speed: 1,000 sma_cross combinations on 100,000 synthetic 1m candles.

Our optimiser (every combination a full backtest with all metrics, on --jobs
processes) beside vectorbt sweeping the same grid (moving averages, crossings,
Portfolio.from_signals and its Sharpe ratio, in blocks of columns so memory stays
bounded), both warm, in one run. vectorbt's compile time is reported separately.
Conventions match as far as vectorbt allows: signals at the close fill at the
next open, 0.1% fee per side, all-in.

    python -m bench.optimize_speed [--candles N] [--jobs N] [--block N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np

from crypto_trader.backtest import optimize as opt
from crypto_trader.backtest.model import EngineConfig
from crypto_trader.backtest.strategies.sma_cross import SmaCross
from crypto_trader.market_data.candles import Candles, candles_from_arrays
from crypto_trader.market_data.series import series_id

SERIES = series_id("binance", "BTC/USDT", "1m")
START_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
MINUTE_MS = 60_000
FAST = "4:100:4"  # 25 values
SLOW = "110:500:10"  # 40 values: 1,000 combinations, all valid


def synthetic(count: int) -> Candles:
    """Issue 4 §6: log returns sd 0.001; open = previous close * exp(N(0, 0.0002))."""
    rng = np.random.default_rng(42)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, count)))
    previous = np.concatenate([[100.0], close[:-1]])
    open_ = previous * np.exp(rng.normal(0.0, 0.0002, count))
    high = np.maximum(open_, close) * 1.0001
    low = np.minimum(open_, close) * 0.9999
    times = START_MS + MINUTE_MS * np.arange(count, dtype=np.int64)
    return candles_from_arrays(times, open_, high, low, close, np.ones(count))


def run_ours(candles: Candles, jobs: int) -> tuple[float, opt.Optimization]:
    ranges = opt.parse_ranges(SmaCross, {"fast": FAST, "slow": SLOW})
    search = opt.grid(SmaCross, ranges)
    work = opt.Work(SmaCross, candles, SERIES, EngineConfig())
    opt.optimize(  # warm: compiled kernel loaded, caches filled
        opt.Work(SmaCross, candles.take(slice(0, 2_000)), SERIES, EngineConfig()),
        opt.Search(search.combinations[:2], 0),
        "sharpe",
        1,
    )
    started = time.perf_counter()
    result = opt.optimize(work, search, "sharpe", jobs)
    return time.perf_counter() - started, result


def run_vectorbt(candles: Candles, block: int) -> tuple[float, float, float]:
    """(compile seconds, sweep seconds, best Sharpe) for vectorbt."""
    import pandas as pd
    import vectorbt as vbt

    index = pd.date_range("2020-01-01", periods=len(candles), freq="1min")
    close = pd.Series(candles.close, index=index)
    open_ = pd.Series(candles.open, index=index)
    pairs = [(f, s) for f in range(4, 101, 4) for s in range(110, 501, 10)]

    def sweep(close: Any, open_: Any, pairs: list[tuple[int, int]]) -> float:
        best = -np.inf
        for first in range(0, len(pairs), block):
            part = pairs[first : first + block]
            fast = vbt.MA.run(close, [f for f, _ in part], per_column=False).ma
            slow = vbt.MA.run(close, [s for _, s in part], per_column=False).ma
            fast_values, slow_values = fast.to_numpy(), slow.to_numpy()
            above = fast_values > slow_values
            below = fast_values < slow_values
            entries = above & np.roll(below, 1, axis=0)
            exits = below & np.roll(above, 1, axis=0)
            entries[0] = exits[0] = False
            # decided at the close, filled at the next open
            entries = np.roll(entries, 1, axis=0)
            exits = np.roll(exits, 1, axis=0)
            entries[0] = exits[0] = False
            portfolio = vbt.Portfolio.from_signals(
                close,
                entries,
                exits,
                price=open_.to_numpy()[:, None],
                fees=0.001,
                init_cash=10_000.0,
                freq="1min",
            )
            sharpe = portfolio.sharpe_ratio().to_numpy()
            best = max(best, float(np.nanmax(sharpe)))
        return best

    started = time.perf_counter()
    sweep(close.iloc[:1_000], open_.iloc[:1_000], pairs[:2])
    compile_s = time.perf_counter() - started
    started = time.perf_counter()
    best = sweep(close, open_, pairs)
    return compile_s, time.perf_counter() - started, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--block", type=int, default=100, help="vectorbt columns")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    candles = synthetic(args.candles)
    ours_s, result = run_ours(candles, args.jobs)
    combos = len(result.ranked)
    figures: dict[str, Any] = {
        "candles": args.candles,
        "combinations": combos,
        "jobs": args.jobs,
        "ours_seconds": ours_s,
        "ours_combinations_per_second": combos / ours_s,
        "ours_best": {
            "params": result.best.params,
            "sharpe": result.best.metrics["sharpe"],
        },
    }
    try:
        compile_s, vbt_s, vbt_best = run_vectorbt(candles, args.block)
    except ImportError:
        figures["vectorbt"] = "not installed (pip install vectorbt)"
    else:
        figures |= {
            "vectorbt_compile_seconds": compile_s,
            "vectorbt_seconds": vbt_s,
            "vectorbt_combinations_per_second": combos / vbt_s,
            "vectorbt_best_sharpe": vbt_best,
            "speedup_vs_vectorbt": vbt_s / ours_s,
            "target_speedup": 2.0,
        }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{combos} sma_cross combinations on {args.candles:,} 1m candles")
    print(f"{'engine':<28}{'seconds':>10}{'combos/s':>12}")
    ours = f"ours ({args.jobs} jobs)"
    print(f"{ours:<28}{ours_s:>10.2f}{combos / ours_s:>12.1f}")
    if "vectorbt_seconds" in figures:
        vbt_s = figures["vectorbt_seconds"]
        print(f"{'vectorbt (1 process)':<28}{vbt_s:>10.2f}{combos / vbt_s:>12.1f}")
        print(
            f"speed-up {figures['speedup_vs_vectorbt']:.1f}x (target 2x); vectorbt "
            f"compile {figures['vectorbt_compile_seconds']:.1f} s not counted"
        )
    else:
        print(f"vectorbt: {figures['vectorbt']}")


if __name__ == "__main__":
    main()
