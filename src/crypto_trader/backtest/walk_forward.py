"""Walk-forward optimisation: optimise on the past, judge on candles not yet seen.

The candles are cut into K consecutive folds of (nearly) equal length. For each
fold i from 1 to K-1, the in-sample window is anchored: it holds folds 0..i-1,
every candle before fold i. The parameters that rank best there are then
backtested on fold i alone, the out-of-sample fold, which the search never saw;
its indicators start cold on that fold, so no in-sample candle leaks into it.

The combined out-of-sample result chains the K-1 out-of-sample runs: each fold
starts flat with the previous fold's final equity as its cash (a position open
at a fold's end is valued at its last close, without an exit fee, as in any
backtest). A high in-sample figure beside a poor out-of-sample one is the mark
of overfitting.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from crypto_trader.backtest.metrics import Metrics, Value, compute_metrics
from crypto_trader.backtest.model import SimResult, Trades
from crypto_trader.backtest.optimize import (
    Combination,
    Optimization,
    Progress,
    Search,
    Work,
    optimize,
)
from crypto_trader.backtest.runner import backtest
from crypto_trader.errors import InputError
from crypto_trader.market_data.candles import Candles
from crypto_trader.market_data.timestamps import format_timestamp_ms


@dataclass(frozen=True, slots=True)
class Fold:
    """One step: the in-sample search and its best parameters out of sample."""

    number: int
    in_sample: slice
    out_of_sample: slice
    optimization: Optimization
    out_of_sample_result: SimResult
    out_of_sample_metrics: Metrics

    @property
    def params(self) -> Combination:
        """The parameters that ranked best in sample."""
        return self.optimization.best.params


@dataclass(frozen=True, slots=True)
class WalkForward:
    """Every fold and the chained out-of-sample result."""

    metric: str
    folds: tuple[Fold, ...]
    candles: Candles
    out_of_sample: Metrics

    def to_json(self) -> dict[str, Any]:
        """Per fold: spans, parameters, in- and out-of-sample metric; then combined."""
        return {
            "metric": self.metric,
            "anchored": True,
            "folds": [self._fold_json(fold) for fold in self.folds],
            "out_of_sample": self.out_of_sample.to_json(),
            "evaluated": sum(len(f.optimization.ranked) for f in self.folds),
            "skipped": sum(f.optimization.skipped for f in self.folds),
        }

    def _fold_json(self, fold: Fold) -> dict[str, Any]:
        in_metric = fold.optimization.best.metrics.get(self.metric)
        out_metric: Value = fold.out_of_sample_metrics.to_json()[self.metric]
        return {
            "fold": fold.number,
            "in_sample": _span_json(self.candles, fold.in_sample),
            "out_of_sample": _span_json(self.candles, fold.out_of_sample),
            "params": dict(fold.params),
            "in_sample_metric": in_metric,
            "out_of_sample_metric": out_metric,
            "evaluated": len(fold.optimization.ranked),
            "skipped": fold.optimization.skipped,
        }


def fold_bounds(count: int, folds: int) -> list[int]:
    """The K+1 candle indices that cut `count` candles into `folds` folds."""
    if folds < 2:
        raise InputError(f"--walk-forward: expected at least 2 folds, got {folds}")
    if count < folds * 2:
        raise InputError(
            f"--walk-forward: {count} candles are too few for {folds} folds"
        )
    return [int(b) for b in np.linspace(0, count, folds + 1).round().astype(int)]


def walk_forward(
    work: Work,
    search: Search,
    metric: str,
    folds: int,
    jobs: int,
    progress: Progress | None = None,
) -> WalkForward:
    """Optimise on each anchored in-sample window, test on the next fold."""
    candles = work.candles
    bounds = fold_bounds(len(candles), folds)
    done: list[Fold] = []
    cash = work.config.cash
    for number in range(1, folds):
        in_sample = slice(0, bounds[number])
        out_sample = slice(bounds[number], bounds[number + 1])
        in_work = replace(work, candles=candles.take(in_sample))
        optimization = optimize(in_work, search, metric, jobs, progress)
        out_work = replace(
            work,
            candles=candles.take(out_sample),
            config=replace(work.config, cash=cash),
        )
        run = backtest(
            out_work.candles,
            work.series,
            work.strategy(**optimization.best.params),
            out_work.config,
        )
        cash = run.result.final_equity
        done.append(
            Fold(number, in_sample, out_sample, optimization, run.result, run.metrics)
        )
    combined = _combined(work, bounds, done)
    return WalkForward(metric, tuple(done), candles, combined)


def _combined(work: Work, bounds: list[int], folds: list[Fold]) -> Metrics:
    """The out-of-sample runs end to end, measured as one backtest."""
    results = [fold.out_of_sample_result for fold in folds]
    offsets = [fold.out_of_sample.start - bounds[1] for fold in folds]
    trades = _joined_trades([r.trades for r in results], offsets)
    last = results[-1]
    joined = SimResult(
        trades=trades,
        equity=np.concatenate([r.equity for r in results]),
        final_equity=last.final_equity,
        final_cash=last.final_cash,
        fees_paid=sum(r.fees_paid for r in results),
    )
    unseen = work.candles.take(slice(bounds[1], bounds[-1]))
    return compute_metrics(unseen, joined, work.config.cash, work.series.timeframe.ms)


def _joined_trades(parts: list[Trades], offsets: list[int]) -> Trades:
    def shifted(name: str) -> np.ndarray[Any, Any]:
        columns = []
        for part, offset in zip(parts, offsets, strict=True):
            column = getattr(part, name)
            columns.append(np.where(column >= 0, column + offset, column))
        return np.concatenate(columns)

    def joined(name: str) -> np.ndarray[Any, Any]:
        return np.concatenate([getattr(part, name) for part in parts])

    return Trades(
        entry_index=shifted("entry_index"),
        exit_index=shifted("exit_index"),
        entry_price=joined("entry_price"),
        exit_price=joined("exit_price"),
        amount=joined("amount"),
        entry_fee=joined("entry_fee"),
        exit_fee=joined("exit_fee"),
        pnl=joined("pnl"),
        exit_reason=joined("exit_reason"),
    )


def _span_json(candles: Candles, span: slice) -> dict[str, Any]:
    times = candles.timestamp_ms
    return {
        "first_index": span.start,
        "end_index": span.stop,
        "candles": span.stop - span.start,
        "start": format_timestamp_ms(int(times[span.start])),
        "last_open": format_timestamp_ms(int(times[span.stop - 1])),
    }
