"""Our engine against backtesting.py where the conventions match.

Written by other people, it must give the same trade count and a final equity
within 1e-6 of ours. backtesting.py is optional (the `bench` extra); without it
these tests skip. vectorbt is compared by `bench/compare_engines.py` only: its
first simulation compiles for about half a minute in every new process.
"""

from __future__ import annotations

import warnings

import pytest
from bench import compare_engines

from crypto_trader.backtest.strategies.sma_cross import SmaCross
from crypto_trader.market_data.samples import sample_series

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # its plotting stack warns on import
    pytest.importorskip("backtesting")
    import backtesting.lib  # noqa: F401 - imported here, under the filter

SAMPLE = sample_series()
MATCHING = [
    case for case in compare_engines.CASES if "backtesting.py" not in case.differs
]


@pytest.mark.parametrize("case", MATCHING, ids=lambda case: case.name)
def test_backtesting_py_agrees_where_conventions_match(
    case: compare_engines.Case,
) -> None:
    signals = SmaCross(fast=10, slow=30).signals(SAMPLE)

    ours = compare_engines.our_engine(SAMPLE, signals, case.config)
    theirs = compare_engines.backtesting_py(SAMPLE, signals, case.config)

    assert ours.trades is not None
    assert ours.trades > 300
    assert theirs.trades == ours.trades
    assert theirs.final_equity == pytest.approx(ours.final_equity, rel=1e-6)


def test_the_cases_cover_both_fills_and_stops() -> None:
    names = [case.name for case in MATCHING]

    assert any("next-open" in name for name in names)
    assert any("close" in name and "stop" in name for name in names)
