"""No look-ahead: cutting the candles short changes no earlier decision.

For every built-in strategy, on the bundled sample, the signals and indicators
computed on the first k candles must equal, bit for bit, the first k values
computed on all of them, for many k. The engine is held to the same: its equity
up to a cut does not depend on the candles after it.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from crypto_trader.backtest.engine import simulate, with_stops
from crypto_trader.backtest.model import EngineConfig, Fill
from crypto_trader.backtest.strategies.registry import BUILTIN
from crypto_trader.backtest.strategy import Param, Signals, Strategy
from crypto_trader.market_data.candles import Candles
from crypto_trader.market_data.samples import sample_series

SAMPLE = sample_series()
# Early cuts, where indicators warm up, and cuts spread over the whole series.
CUTS = [1, 2, 3, 5, 8, 13, 21, 26, 34, 55, 89, 144, 233, 377, 610, 987]
CUTS += np.linspace(1000, len(SAMPLE) - 1, 24).astype(int).tolist()


def first_change(strategy: Strategy, candles: Candles) -> str | None:
    """Where a decision up to a cut changed when the candles after it were added."""
    whole = strategy.signals(candles)
    for cut in CUTS:
        part = strategy.signals(candles.take(slice(0, cut)))
        if not np.array_equal(part.entries, whole.entries[:cut]):
            return f"entries before candle {cut}"
        if not np.array_equal(part.exits, whole.exits[:cut]):
            return f"exits before candle {cut}"
        for name, values in part.indicators.items():
            if not np.array_equal(values, whole.indicators[name][:cut], equal_nan=True):
                return f"indicator {name} before candle {cut}"
    return None


@pytest.mark.parametrize("strategy", BUILTIN, ids=lambda s: s.name)
def test_no_builtin_decision_depends_on_later_candles(strategy: type[Strategy]) -> None:
    assert first_change(strategy(), SAMPLE) is None


@pytest.mark.parametrize("strategy", BUILTIN, ids=lambda s: s.name)
def test_the_builtins_decide_something_on_the_sample(strategy: type[Strategy]) -> None:
    # Otherwise the test above would pass on empty signals.
    signals = strategy().signals(SAMPLE)

    assert signals.entries.sum() > 10
    assert signals.exits.sum() > 10


class PeeksAhead(Strategy):
    """Enters before a rise: it reads the next close."""

    name = "peeks_ahead"
    params: ClassVar[tuple[Param, ...]] = ()

    def signals(self, candles: Candles) -> Signals:
        close = candles.close
        rises = np.zeros(len(close), dtype=np.bool_)
        rises[:-1] = close[1:] > close[:-1]
        return Signals(rises, ~rises)


def test_the_check_catches_a_strategy_that_peeks() -> None:
    found = first_change(PeeksAhead(), SAMPLE)

    assert found is not None
    assert found.startswith("entries before candle ")


@pytest.mark.parametrize("fill", list(Fill))
@pytest.mark.parametrize("strategy", BUILTIN, ids=lambda s: s.name)
def test_engine_equity_up_to_a_cut_ignores_later_candles(
    strategy: type[Strategy], fill: Fill
) -> None:
    instance = strategy()
    config = with_stops(EngineConfig(fill=fill, trailing_stop=0.08), instance.stops())
    whole = simulate(SAMPLE, instance.signals(SAMPLE), config)

    for cut in CUTS[::4]:
        part = SAMPLE.take(slice(0, cut))
        result = simulate(part, instance.signals(part), config)
        assert np.array_equal(result.equity, whole.equity[:cut])
        closed = result.trades.exit_index >= 0
        earlier = len(result.trades)
        assert np.array_equal(
            result.trades.exit_index[closed], whole.trades.exit_index[:earlier][closed]
        )
        assert np.array_equal(
            result.trades.entry_index, whole.trades.entry_index[:earlier]
        )
