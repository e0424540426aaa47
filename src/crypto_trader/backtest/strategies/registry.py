"""Find a strategy: a built-in by name, or a user's class in a Python file.

`load_strategy("sma_cross")` or `load_strategy("path/to/file.py:ClassName")`. A
user's file is Python code that the user chose to run: it is imported from its
path like a module, never read and evaluated as a string.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from types import ModuleType

from crypto_trader.backtest.strategies.bollinger_breakout import BollingerBreakout
from crypto_trader.backtest.strategies.macd import Macd
from crypto_trader.backtest.strategies.rsi_reversion import RsiReversion
from crypto_trader.backtest.strategies.sma_cross import SmaCross
from crypto_trader.backtest.strategy import Strategy
from crypto_trader.errors import InputError

BUILTIN: tuple[type[Strategy], ...] = (SmaCross, RsiReversion, BollingerBreakout, Macd)
FILE_SPEC_HINT = "a strategy in a file is given as path/to/file.py:ClassName"


def builtin_strategies() -> dict[str, type[Strategy]]:
    """The built-in strategies by name."""
    return {strategy.name: strategy for strategy in BUILTIN}


def load_strategy(spec: str) -> type[Strategy]:
    """The strategy class `spec` names; raises InputError saying what is wrong."""
    builtins = builtin_strategies()
    if spec in builtins:
        return builtins[spec]
    if ":" not in spec:
        names = ", ".join(builtins)
        raise InputError(
            f"no built-in strategy {spec!r} (built-in: {names}); {FILE_SPEC_HINT}"
        )
    path_text, class_name = spec.rsplit(":", 1)
    path = Path(path_text)
    if not class_name.isidentifier():
        raise InputError(f"{spec!r} names no class after the colon; {FILE_SPEC_HINT}")
    module = _import_file(path)
    return _strategy_class(module, path, class_name)


def describe_strategies() -> list[dict[str, object]]:
    """What `strategies list` shows: each built-in with its parameters."""
    return [describe_strategy(strategy) for strategy in BUILTIN]


def describe_strategy(strategy: type[Strategy]) -> dict[str, object]:
    """Name, the docstring's first line, and each parameter with its range."""
    doc = inspect.getdoc(strategy) or ""
    return {
        "name": strategy.name,
        "description": doc.splitlines()[0] if doc else "",
        "params": [
            {
                "name": param.name,
                "type": param.kind.__name__,
                "default": param.default,
                "low": param.low,
                "high": param.high,
                "step": param.step,
                "description": param.description,
            }
            for param in strategy.params
        ],
    }


def _import_file(path: Path) -> ModuleType:
    if path.suffix != ".py":
        raise InputError(f"strategy file {path} is not a .py file; {FILE_SPEC_HINT}")
    if not path.is_file():
        raise InputError(f"strategy file {path} does not exist")
    resolved = path.resolve()
    # A name of its own per file, registered while it runs so that dataclasses
    # and typing inside it can find their module.
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:16]
    name = f"crypto_trader_user_strategy_{digest}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise InputError(f"strategy file {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise InputError(
            f"strategy file {path} line {exc.lineno}: syntax error: {exc.msg}"
        ) from None
    except Exception as exc:  # the user's code may raise anything while loading
        del sys.modules[name]
        raise InputError(
            f"strategy file {path}{_line_in(exc, resolved)} raised while loading: "
            f"{_first_line(exc)}"
        ) from None
    return module


def _strategy_class(module: ModuleType, path: Path, class_name: str) -> type[Strategy]:
    found = getattr(module, class_name, None)
    if found is None:
        classes = sorted(
            name
            for name, value in vars(module).items()
            if inspect.isclass(value) and value.__module__ == module.__name__
        )
        listed = ", ".join(classes) or "none"
        raise InputError(
            f"strategy file {path} has no class {class_name!r} (classes: {listed})"
        )
    if not (inspect.isclass(found) and issubclass(found, Strategy)):
        raise InputError(
            f"{path}:{class_name} is not a Strategy subclass; derive it from "
            "crypto_trader.backtest.strategy.Strategy"
        )
    if inspect.isabstract(found):
        raise InputError(f"{path}:{class_name} does not define signals(candles)")
    if not isinstance(getattr(found, "name", None), str):
        raise InputError(f"{path}:{class_name} sets no class attribute `name`")
    return found


def _line_in(exc: BaseException, path: Path) -> str:
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if Path(frame.filename) == path
    ]
    return f" line {frames[-1].lineno}" if frames else ""


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
