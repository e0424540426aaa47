"""Parameter search: ranges, grid and random sampling, ranking, workers, folds."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest

from crypto_trader.backtest import optimize as opt
from crypto_trader.backtest.model import EngineConfig
from crypto_trader.backtest.runner import backtest
from crypto_trader.backtest.strategies.sma_cross import SmaCross
from crypto_trader.backtest.strategy import Param, Signals, Strategy
from crypto_trader.backtest.walk_forward import fold_bounds, walk_forward
from crypto_trader.errors import InputError
from crypto_trader.market_data.candles import Candles
from crypto_trader.market_data.samples import SAMPLE_SERIES, sample_series

COUNT = 2_000
RANGES = {"fast": (5, 10, 15, 20, 25), "slow": (10, 20, 30, 40)}


@pytest.fixture(scope="module")
def candles() -> Candles:
    return sample_series().take(slice(0, COUNT))


def work(candles: Candles, strategy: type[Strategy] = SmaCross) -> opt.Work:
    return opt.Work(strategy, candles, SAMPLE_SERIES, EngineConfig())


FAST, SLOW = SmaCross.params


class Ratio(Strategy):
    """A float parameter to range over; never trades."""

    name = "ratio"
    params: ClassVar[tuple[Param, ...]] = (Param("ratio", 0.5, 0.0, 1.0, 0.1),)

    def signals(self, candles: Candles) -> Signals:
        none = np.zeros(len(candles), dtype=bool)
        return Signals(none, none)


def test_ranges_include_both_ends() -> None:
    assert opt.parse_range(FAST, "5:50:5") == tuple(range(5, 51, 5))
    assert opt.parse_range(FAST, "5:12:5") == (5, 10)
    assert opt.parse_range(FAST, "7") == (7,)
    assert opt.parse_range(FAST, "3:6") == (3, 4, 5, 6)


def test_float_steps_are_exact() -> None:
    (ratio,) = Ratio.params
    assert opt.parse_range(ratio, "0.1:0.3:0.1") == (0.1, 0.2, 0.3)
    assert opt.parse_range(ratio, "0:1:0.25") == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert all(isinstance(v, float) for v in opt.parse_range(ratio, "0:1:0.5"))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("5:50:0", "step must be a positive int"),
        ("5:50:-5", "step must be a positive int"),
        ("5:50:2.5", "step must be a positive int"),
        ("50:5:5", "below start"),
        ("1:50:5", "outside 2..200"),
        ("5:500:5", "outside 2..200"),
        ("5.5:10", "expected int"),
        ("5:10:1:1", "START:STOP:STEP"),
    ],
)
def test_bad_ranges_say_what_to_fix(text: str, says: str) -> None:
    with pytest.raises(InputError, match=says) as caught:
        opt.parse_range(FAST, text)
    assert str(caught.value).startswith("--param fast")
    assert "\n" not in str(caught.value)


def test_unknown_parameter_and_metric_are_refused() -> None:
    with pytest.raises(InputError, match="its parameters: fast, slow"):
        opt.parse_ranges(SmaCross, {"speed": "1:2"})
    with pytest.raises(InputError, match=r"choose one of .*total_return_pct.*sharpe"):
        opt.parse_metric("start")
    assert opt.parse_metric("calmar") == "calmar"


def test_grid_is_the_product_and_skips_invalid_combinations() -> None:
    ranges = opt.parse_ranges(SmaCross, {"fast": "5:25:5", "slow": "10:40:10"})
    assert ranges == RANGES
    assert opt.grid_size(ranges) == 20
    search = opt.grid(SmaCross, ranges)
    invalid = [(f, s) for f in RANGES["fast"] for s in RANGES["slow"] if f >= s]
    assert search.skipped == len(invalid) == 6
    assert len(search.combinations) == 14
    assert all(c["fast"] < c["slow"] for c in search.combinations)
    assert search.combinations[0] == {"fast": 5, "slow": 10}


def test_unnamed_parameters_keep_their_default() -> None:
    ranges = opt.parse_ranges(SmaCross, {"fast": "5:6"})
    assert ranges == {"fast": (5, 6), "slow": (30,)}


def test_random_sampling_is_seeded_and_without_replacement() -> None:
    ranges = opt.parse_ranges(SmaCross, {"fast": "2:100", "slow": "3:300"})
    first = opt.random_sample(SmaCross, ranges, 50, seed=0)
    again = opt.random_sample(SmaCross, ranges, 50, seed=0)
    other = opt.random_sample(SmaCross, ranges, 50, seed=1)
    assert first == again
    assert first != other
    drawn = first.combinations
    assert len(drawn) + first.skipped == 50
    assert len({(c["fast"], c["slow"]) for c in drawn}) == len(drawn)
    assert all(c["fast"] in ranges["fast"] for c in drawn)
    small = opt.random_sample(SmaCross, RANGES, 1_000, seed=0)
    assert small == opt.grid(SmaCross, RANGES)


def test_best_is_the_maximum_of_a_plain_loop(candles: Candles) -> None:
    search = opt.grid(SmaCross, RANGES)
    result = opt.optimize(work(candles), search, "sharpe", jobs=1)

    brute = {}
    for combo in search.combinations:
        run = backtest(candles, SAMPLE_SERIES, SmaCross(**combo), EngineConfig())
        brute[(combo["fast"], combo["slow"])] = run.metrics.sharpe
    best = max(brute, key=lambda key: brute[key] or -math.inf)
    assert (result.best.params["fast"], result.best.params["slow"]) == best
    assert result.best.metrics["sharpe"] == brute[best]
    values = [e.metrics["sharpe"] for e in result.ranked]
    assert values == sorted(values, reverse=True)  # type: ignore[type-var]
    assert len(result.ranked) == 14
    assert result.skipped == 6


def test_drawdown_ranks_lowest_first(candles: Candles) -> None:
    search = opt.grid(SmaCross, RANGES)
    result = opt.optimize(work(candles), search, "max_drawdown_pct", jobs=1)
    values = [e.metrics["max_drawdown_pct"] for e in result.ranked]
    assert values == sorted(values)  # type: ignore[type-var]


def test_two_workers_give_the_same_result_as_one(candles: Candles) -> None:
    search = opt.grid(SmaCross, RANGES)
    seen: list[tuple[int, int]] = []
    one = opt.optimize(work(candles), search, "total_return_pct", jobs=1)
    two = opt.optimize(
        work(candles),
        search,
        "total_return_pct",
        jobs=2,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert one == two
    assert seen[-1] == (14, 14)


def test_all_invalid_is_an_input_error(candles: Candles) -> None:
    search = opt.grid(SmaCross, {"fast": (50,), "slow": (10, 20)})
    with pytest.raises(InputError, match="all 2 combinations are invalid"):
        opt.optimize(work(candles), search, "sharpe", jobs=1)


def test_fold_bounds_cut_consecutive_folds() -> None:
    assert fold_bounds(2_000, 4) == [0, 500, 1_000, 1_500, 2_000]
    assert fold_bounds(10, 3) == [0, 3, 7, 10]
    with pytest.raises(InputError, match="at least 2 folds"):
        fold_bounds(100, 1)
    with pytest.raises(InputError, match="too few"):
        fold_bounds(5, 4)


class Recorder(SmaCross):
    """sma_cross that notes the first and last open time of each call."""

    seen: ClassVar[list[tuple[int, int]]] = []

    def signals(self, candles: Candles) -> Signals:
        times = candles.timestamp_ms
        Recorder.seen.append((int(times[0]), int(times[-1])))
        return super().signals(candles)


def test_walk_forward_tests_on_unseen_candles_only(candles: Candles) -> None:
    Recorder.seen.clear()
    search = opt.grid(Recorder, RANGES)
    result = walk_forward(work(candles, Recorder), search, "sharpe", 4, jobs=1)

    times = candles.timestamp_ms
    assert [f.in_sample for f in result.folds] == [
        slice(0, 500),
        slice(0, 1_000),
        slice(0, 1_500),
    ]
    assert [f.out_of_sample for f in result.folds] == [
        slice(500, 1_000),
        slice(1_000, 1_500),
        slice(1_500, 2_000),
    ]
    for fold in result.folds:
        first, last = fold.out_of_sample.start, fold.out_of_sample.stop - 1
        # The out-of-sample run saw exactly its fold, nothing earlier.
        assert (int(times[first]), int(times[last])) in Recorder.seen
        assert fold.out_of_sample_metrics.candles == last - first + 1
        in_sample = opt.optimize(
            work(candles.take(fold.in_sample)), search, "sharpe", 1
        )
        assert fold.params == in_sample.best.params
    view = result.to_json()
    assert view["out_of_sample"]["candles"] == 1_500
    assert view["evaluated"] == 3 * 14
    assert view["skipped"] == 3 * 6
    final = result.folds[-1].out_of_sample_result.final_equity
    assert view["out_of_sample"]["final_equity"] == final
