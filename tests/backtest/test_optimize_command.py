"""`crypto-trader optimize` on the command line: JSON shape, tables, one-line errors."""

from __future__ import annotations

import json

import pytest

from crypto_trader.home import Home
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.samples import SAMPLE_SERIES, sample_series
from tests.support.cli import CliRunner

SERIES = ("--exchange", "coinbase", "--symbol", "BTC/USD", "--timeframe", "1h")
RUN = (
    "optimize",
    "--strategy",
    "sma_cross",
    *SERIES,
    "--param",
    "fast=5:25:5",
    "--param",
    "slow=10:40:10",
    "--jobs",
    "2",
)


@pytest.fixture
def stored(home: Home) -> Home:
    """The home with the first 2,000 candles of the bundled sample."""
    CandleStore.for_home(home).merge(
        SAMPLE_SERIES, sample_series().take(slice(0, 2_000))
    )
    return home


def test_json_has_best_top_and_counts(cli: CliRunner, stored: Home) -> None:
    outcome = cli(*RUN, "--json")
    assert outcome.code == 0, outcome.err
    view = json.loads(outcome.out)
    assert set(view) == {"metric", "best", "top", "evaluated", "skipped"}
    assert view["metric"] == "sharpe"
    assert (view["evaluated"], view["skipped"]) == (14, 6)
    assert len(view["top"]) == 10
    assert view["top"][0] == view["best"]
    assert set(view["best"]["params"]) == {"fast", "slow"}
    assert view["best"]["metrics"]["candles"] == 2_000
    sharpes = [entry["metrics"]["sharpe"] for entry in view["top"]]
    assert sharpes == sorted(sharpes, reverse=True)


def test_random_method_samples_trials(cli: CliRunner, stored: Home) -> None:
    args = (*RUN, "--method", "random", "--trials", "8", "--seed", "3", "--json")
    first, again = cli(*args), cli(*args)
    assert first.code == 0, first.err
    assert first.out == again.out
    view = json.loads(first.out)
    assert view["evaluated"] + view["skipped"] == 8


def test_table_names_the_best(cli: CliRunner, stored: Home) -> None:
    outcome = cli(*RUN, "--metric", "total_return_pct")
    assert outcome.code == 0, outcome.err
    view = json.loads(cli(*RUN, "--metric", "total_return_pct", "--json").out)
    best = view["best"]["params"]
    assert f"best by total_return_pct: fast={best['fast']}, slow={best['slow']}" in (
        outcome.out
    )
    assert "skipped 6 invalid" in outcome.out


def test_walk_forward_json(cli: CliRunner, stored: Home) -> None:
    outcome = cli(*RUN, "--walk-forward", "4", "--json")
    assert outcome.code == 0, outcome.err
    view = json.loads(outcome.out)
    assert [fold["fold"] for fold in view["folds"]] == [1, 2, 3]
    first = view["folds"][0]
    assert first["in_sample"]["end_index"] == first["out_of_sample"]["first_index"]
    assert {"params", "in_sample_metric", "out_of_sample_metric"} <= set(first)
    assert view["out_of_sample"]["candles"] == 1_500
    table = cli(*RUN, "--walk-forward", "4")
    assert table.code == 0
    assert "combined out of sample: sharpe" in table.out


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (("--param", "fast=5:25:0"), "--param fast: the step must be a positive int"),
        (("--param", "speed=1:2"), "--param speed: sma_cross has no such parameter"),
        (("--metric", "start"), "--metric: no numeric metric 'start'; choose one of"),
        (("--method", "best"), "--method: expected grid or random"),
        (("--walk-forward", "1"), "--walk-forward: expected at least 2 folds"),
        (("--fill", "later"), "--fill: expected next-open or close"),
        (
            ("--param", "fast=50", "--param", "slow=10"),
            "all 1 combinations are invalid",
        ),
    ],
)
def test_errors_are_one_line_exit_2(
    cli: CliRunner, stored: Home, extra: tuple[str, ...], says: str
) -> None:
    base = ("optimize", "--strategy", "sma_cross", *SERIES, "--jobs", "1")
    outcome = cli(*base, *extra)
    assert outcome.code == 2
    assert says in outcome.err
    assert outcome.err.count("\n") == 1


def test_missing_series_says_how_to_get_it(cli: CliRunner, home: Home) -> None:
    outcome = cli("optimize", "--strategy", "sma_cross", *SERIES)
    assert outcome.code != 0
    assert "crypto-trader data download" in outcome.err
