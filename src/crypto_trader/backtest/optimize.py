"""Search a strategy's parameters: a grid or a random sample of it, on all cores.

Ranges are `start:stop:step` with both ends included (`start:stop` steps by the
parameter's own step; a bare value fixes the parameter). Combinations the
strategy refuses in `validate()` (for example fast >= slow) are skipped and
counted. Each combination is one backtest through the runner, so an optimised
result is exactly what `crypto-trader backtest` reports for those parameters.

Work is spread over a process pool started by fork where the platform has it,
so the workers share the parent's candles without copying them; each task is a
chunk of combinations, so the per-task overhead stays small. Results are ranked
by one metric, highest first (lowest first for drawdowns and fees); a None
sorts last and ties keep grid order, so a run is deterministic whatever the
number of workers.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from crypto_trader.backtest.metrics import Metrics, Value
from crypto_trader.backtest.model import EngineConfig
from crypto_trader.backtest.runner import backtest
from crypto_trader.backtest.strategy import Param, Strategy
from crypto_trader.errors import InputError
from crypto_trader.market_data.candles import Candles
from crypto_trader.market_data.series import SeriesId

ParamValue = int | float
Combination = dict[str, ParamValue]
Progress = Callable[[int, int], None]

METRICS: tuple[str, ...] = tuple(
    f.name for f in fields(Metrics) if f.name not in {"start", "end"}
)
LOWER_IS_BETTER = frozenset(
    {
        "max_drawdown_pct",
        "max_drawdown_duration_days",
        "longest_drawdown_days",
        "fees_paid",
    }
)
MAX_GRID = 1_000_000
TASKS_PER_WORKER = 8


@dataclass(frozen=True, slots=True)
class Search:
    """The combinations to evaluate and how many the strategy refused."""

    combinations: tuple[Combination, ...]
    skipped: int


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One combination's parameters and metrics (JSON values)."""

    params: Combination
    metrics: dict[str, Value]

    def to_json(self) -> dict[str, Any]:
        """Parameters and metrics."""
        return {"params": dict(self.params), "metrics": dict(self.metrics)}


@dataclass(frozen=True, slots=True)
class Optimization:
    """Every evaluation ranked best first by `metric`."""

    metric: str
    ranked: tuple[Evaluation, ...]
    skipped: int

    @property
    def best(self) -> Evaluation:
        """The top-ranked evaluation."""
        return self.ranked[0]

    def to_json(self, top: int = 10) -> dict[str, Any]:
        """Best, the top `top`, the counts and the metric ranked by."""
        return {
            "metric": self.metric,
            "best": self.best.to_json(),
            "top": [evaluation.to_json() for evaluation in self.ranked[:top]],
            "evaluated": len(self.ranked),
            "skipped": self.skipped,
        }


def parse_metric(name: str) -> str:
    """A metric key of the backtest's JSON that holds a number."""
    if name not in METRICS:
        raise InputError(
            f"--metric: no numeric metric {name!r}; choose one of {', '.join(METRICS)}"
        )
    return name


def parse_ranges(
    strategy: type[Strategy], assignments: Mapping[str, str]
) -> dict[str, tuple[ParamValue, ...]]:
    """The values to try per parameter; parameters not named keep their default."""
    known = {param.name: param for param in strategy.params}
    for name in assignments:
        if name not in known:
            listed = ", ".join(known) or "none"
            raise InputError(
                f"--param {name}: {strategy.name} has no such parameter; "
                f"its parameters: {listed}"
            )
    return {
        name: parse_range(param, assignments[name])
        if name in assignments
        else (param.default,)
        for name, param in known.items()
    }


def parse_range(param: Param, text: str) -> tuple[ParamValue, ...]:
    """`start:stop:step` (both ends included), `start:stop` or one value."""
    parts = [part.strip() for part in text.split(":")]
    if len(parts) == 1:
        return (param.parse(parts[0]),)
    if len(parts) > 3:
        raise InputError(
            f"--param {param.name}: expected START:STOP:STEP such as 5:50:5, "
            f"got {text!r}"
        )
    start, stop = param.parse(parts[0]), param.parse(parts[1])
    step = _step(param, parts[2]) if len(parts) == 3 else _step(param, str(param.step))
    if stop < start:
        raise InputError(
            f"--param {param.name}: stop {stop} is below start {start} in {text!r}"
        )
    first, last, delta = (Decimal(str(v)) for v in (start, stop, step))
    count = int((last - first) / delta) + 1
    if count > MAX_GRID:
        raise InputError(
            f"--param {param.name}: {text!r} gives {count:,} values; use a larger step"
        )
    return tuple(param.kind(first + delta * k) for k in range(count))


def _step(param: Param, text: str) -> ParamValue:
    hint = f"--param {param.name}: the step must be a positive {param.kind.__name__}"
    try:
        step: ParamValue = param.kind(text)
        finite = Decimal(text).is_finite()
    except (ValueError, InvalidOperation):
        raise InputError(f"{hint}, got {text!r}") from None
    if not finite or step <= 0:
        raise InputError(f"{hint}, got {text!r}")
    return step


def grid_size(ranges: Mapping[str, Sequence[ParamValue]]) -> int:
    """How many combinations the ranges make."""
    return math.prod(len(values) for values in ranges.values())


def grid(
    strategy: type[Strategy], ranges: Mapping[str, Sequence[ParamValue]]
) -> Search:
    """Every combination, in order (the last parameter varies fastest)."""
    size = grid_size(ranges)
    if size > MAX_GRID:
        raise InputError(
            f"--param: the grid has {size:,} combinations (at most {MAX_GRID:,}); "
            "use larger steps or --method random --trials N"
        )
    names = list(ranges)
    product = itertools.product(*(ranges[name] for name in names))
    return _valid(
        strategy, (dict(zip(names, values, strict=True)) for values in product)
    )


def random_sample(
    strategy: type[Strategy],
    ranges: Mapping[str, Sequence[ParamValue]],
    trials: int,
    seed: int,
) -> Search:
    """`trials` combinations of the grid drawn without replacement, in grid order.

    The draw depends only on the ranges, `trials` and `seed`; the whole grid is
    taken when it holds no more than `trials` combinations.
    """
    if trials < 1:
        raise InputError(f"--trials: expected a positive count, got {trials}")
    size = grid_size(ranges)
    if size <= trials:
        return grid(strategy, ranges)
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(size, size=trials, replace=False))
    names = list(ranges)
    return _valid(strategy, (_decode(int(i), names, ranges) for i in picks))


def _decode(
    index: int, names: list[str], ranges: Mapping[str, Sequence[ParamValue]]
) -> Combination:
    """The combination at `index` of the grid's order."""
    combination: Combination = {}
    for name in reversed(names):
        index, position = divmod(index, len(ranges[name]))
        combination[name] = ranges[name][position]
    return {name: combination[name] for name in names}


def _valid(strategy: type[Strategy], candidates: Iterable[Combination]) -> Search:
    kept: list[Combination] = []
    skipped = 0
    for combination in candidates:
        try:
            strategy(**combination)
        except InputError:
            skipped += 1
        else:
            kept.append(combination)
    return Search(tuple(kept), skipped)


@dataclass(frozen=True, slots=True)
class Work:
    """What every combination runs on; workers inherit it when the pool starts."""

    strategy: type[Strategy]
    candles: Candles
    series: SeriesId
    config: EngineConfig


_work: Work | None = None


def evaluate(work: Work, combination: Combination) -> dict[str, Value]:
    """The metrics of one backtest with `combination`."""
    run = backtest(work.candles, work.series, work.strategy(**combination), work.config)
    return run.metrics.to_json()


def optimize(
    work: Work,
    search: Search,
    metric: str,
    jobs: int,
    progress: Progress | None = None,
) -> Optimization:
    """Evaluate every combination of `search` on `jobs` processes and rank them."""
    combos = search.combinations
    if not combos:
        raise InputError(
            f"--param: all {search.skipped} combinations are invalid for "
            f"{work.strategy.name}; check the ranges (e.g. fast below slow)"
        )
    metrics = _evaluate_all(work, combos, jobs, progress)
    ranked = sorted(range(len(combos)), key=lambda i: _rank_key(metrics[i], metric, i))
    evaluations = tuple(Evaluation(combos[i], metrics[i]) for i in ranked)
    return Optimization(metric, evaluations, search.skipped)


def _rank_key(metrics: Mapping[str, Value], metric: str, index: int) -> tuple[Any, ...]:
    value = metrics.get(metric)
    if not isinstance(value, int | float) or math.isnan(value):
        return (1, 0.0, index)
    return (0, value if metric in LOWER_IS_BETTER else -value, index)


def _evaluate_all(
    work: Work, combos: Sequence[Combination], jobs: int, progress: Progress | None
) -> list[dict[str, Value]]:
    total = len(combos)
    chunk = max(1, math.ceil(total / (jobs * TASKS_PER_WORKER)))
    starts = range(0, total, chunk)
    workers = min(jobs, len(starts))
    results: list[dict[str, Value]] = [{} for _ in combos]
    if workers <= 1:
        for start in starts:
            _store(results, start, _chunk(work, combos[start : start + chunk]))
            if progress is not None:
                progress(min(start + chunk, total), total)
        return results
    # The parent runs one combination first: the compiled kernel is then loaded
    # before the fork, and a broken strategy fails here with a clear message.
    evaluate(work, combos[0])
    done = 0
    with ProcessPoolExecutor(
        workers, mp_context=_context(), initializer=_install, initargs=(work,)
    ) as pool:
        futures = {
            pool.submit(_run_chunk, combos[start : start + chunk]): start
            for start in starts
        }
        for future in as_completed(futures):
            chunk_metrics = future.result()
            _store(results, futures[future], chunk_metrics)
            done += len(chunk_metrics)
            if progress is not None:
                progress(done, total)
    return results


def _store(
    results: list[dict[str, Value]], start: int, chunk: list[dict[str, Value]]
) -> None:
    results[start : start + len(chunk)] = chunk


def _context() -> multiprocessing.context.BaseContext:
    """fork where available (workers share the candles), else the default."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _install(work: Work) -> None:
    global _work
    _work = work


def _run_chunk(combos: Sequence[Combination]) -> list[dict[str, Value]]:
    assert _work is not None  # noqa: S101 - set by the pool's initializer
    return _chunk(_work, combos)


def _chunk(work: Work, combos: Sequence[Combination]) -> list[dict[str, Value]]:
    return [evaluate(work, combination) for combination in combos]


def default_jobs() -> int:
    """All cores."""
    return os.cpu_count() or 1
