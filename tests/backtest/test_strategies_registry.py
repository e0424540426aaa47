"""Finding strategies: built-ins by name, users' classes from files, the listing."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from crypto_trader.backtest.engine import simulate
from crypto_trader.backtest.model import EngineConfig
from crypto_trader.backtest.strategies.registry import (
    builtin_strategies,
    describe_strategies,
    load_strategy,
)
from crypto_trader.backtest.strategies.sma_cross import SmaCross
from crypto_trader.errors import InputError
from crypto_trader.market_data.samples import sample_series

USER_STRATEGY = '''
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from crypto_trader.backtest.strategy import Param, Signals, Stops, Strategy


@dataclass
class Window:
    size: int


class EveryNth(Strategy):
    """Buys every n-th candle and sells the next."""

    name = "every_nth"
    params: ClassVar[tuple[Param, ...]] = (Param("n", 10, 2, 100),)

    def signals(self, candles):
        index = np.arange(len(candles))
        n = Window(int(self.values["n"])).size
        return Signals(index % n == 0, index % n == 1, {})

    def stops(self):
        return Stops(stop_loss=0.5)


class NotAStrategy:
    pass


def helper():
    return 1
'''


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_the_builtins_by_name() -> None:
    strategies = builtin_strategies()

    assert list(strategies) == [
        "sma_cross",
        "rsi_reversion",
        "bollinger_breakout",
        "macd",
    ]
    assert load_strategy("sma_cross") is SmaCross


def test_an_unknown_name_lists_the_builtins() -> None:
    with pytest.raises(
        InputError, match=r"no built-in strategy 'smacross' \(built-in: sma_cross"
    ):
        load_strategy("smacross")


def test_the_listing_has_names_descriptions_and_parameter_ranges() -> None:
    listing = describe_strategies()

    assert [entry["name"] for entry in listing] == list(builtin_strategies())
    first = listing[0]
    assert first["description"] == (
        "Trend following: long while the fast average of the close is above "
        "the slow one."
    )
    assert first["params"] == [
        {
            "name": "fast",
            "type": "int",
            "default": 10,
            "low": 2,
            "high": 200,
            "step": 1,
            "description": "candles in the fast average",
        },
        {
            "name": "slow",
            "type": "int",
            "default": 30,
            "low": 3,
            "high": 500,
            "step": 1,
            "description": "candles in the slow average",
        },
    ]
    assert json.loads(json.dumps(listing)) == listing  # plain JSON values


def test_a_user_strategy_loads_from_its_file_and_runs(tmp_path: Path) -> None:
    path = write(tmp_path, "mine.py", USER_STRATEGY)

    strategy = load_strategy(f"{path}:EveryNth")(n=5)
    candles = sample_series().take(slice(0, 100))
    result = simulate(candles, strategy.signals(candles), EngineConfig())

    assert strategy.name == "every_nth"
    assert strategy.stops().stop_loss == 0.5
    # Signals at 0, 5, ..., 95 and exits one candle later; 95 enters at 96 and
    # its exit at 96 fills at 97.
    assert result.trades.entry_index.tolist() == list(range(1, 100, 5))
    assert np.all(result.trades.exit_index == result.trades.entry_index + 1)


def test_a_relative_path_loads_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "mine.py", USER_STRATEGY)
    monkeypatch.chdir(tmp_path)

    assert load_strategy("mine.py:EveryNth").name == "every_nth"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("missing.py:EveryNth", r"strategy file .*missing.py does not exist"),
        ("mine.txt:EveryNth", r"strategy file mine.txt is not a .py file"),
        ("mine.py:", r"'mine.py:' names no class after the colon"),
        (
            "mine.py:Absent",
            r"mine.py has no class 'Absent' "
            r"\(classes: EveryNth, NotAStrategy, Window\)",
        ),
        ("mine.py:NotAStrategy", r"mine.py:NotAStrategy is not a Strategy subclass"),
        ("mine.py:helper", r"mine.py:helper is not a Strategy subclass"),
    ],
)
def test_mistakes_in_a_file_spec_get_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str, message: str
) -> None:
    write(tmp_path, "mine.py", USER_STRATEGY)
    write(tmp_path, "mine.txt", USER_STRATEGY)
    monkeypatch.chdir(tmp_path)

    with pytest.raises(InputError, match=message) as caught:
        load_strategy(spec)

    assert "\n" not in str(caught.value)


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.py", "x = 1\ndef oops(:\n    pass\n")

    with pytest.raises(InputError, match=r"broken.py line 2: syntax error: ") as caught:
        load_strategy(f"{path}:Oops")

    assert "\n" not in str(caught.value)


def test_an_error_while_loading_names_the_file_line_and_error(tmp_path: Path) -> None:
    path = write(tmp_path, "raises.py", "import math\n\nvalue = 1 / 0\n")

    with pytest.raises(
        InputError, match=r"raises.py line 3 raised while loading: ZeroDivisionError"
    ):
        load_strategy(f"{path}:Anything")


def test_a_class_without_signals_or_name_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "partial.py",
        """
        from crypto_trader.backtest.strategy import Signals, Strategy

        class NoSignals(Strategy):
            name = "no_signals"

        class NoName(Strategy):
            def signals(self, candles):
                return Signals(None, None)
        """,
    )

    with pytest.raises(InputError, match="NoSignals does not define signals"):
        load_strategy(f"{path}:NoSignals")
    with pytest.raises(InputError, match="NoName sets no class attribute `name`"):
        load_strategy(f"{path}:NoName")


def test_the_file_is_imported_not_evaluated_as_text(tmp_path: Path) -> None:
    # A module-level __file__ exists only when the file is imported from its path.
    path = write(
        tmp_path,
        "where.py",
        """
        from crypto_trader.backtest.strategy import Strategy

        class Here(Strategy):
            name = "here"
            source = __file__

            def signals(self, candles):
                raise NotImplementedError
        """,
    )

    loaded = load_strategy(f"{path}:Here")

    assert Path(loaded.source) == path.resolve()  # type: ignore[attr-defined]
