"""The strategy contract: typed parameters in, whole-array signals out.

A strategy computes its indicators over whole numpy arrays and says, for each candle,
whether to enter or exit a long position at that candle's close. It never knows whether
it runs in a backtest, on paper or live. A decision at candle i may depend only on
candles 0..i: no look-ahead. Paper and live trading ask for the same decisions one
closed candle at a time through `stream()`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from crypto_trader.backtest.streaming import SignalStream, WindowedStream
from crypto_trader.errors import InputError
from crypto_trader.market_data.candles import Candles

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Param:
    """One typed parameter: its default and the range an optimiser may search."""

    name: str
    default: int | float
    low: int | float
    high: int | float
    step: int | float = 1
    description: str = ""

    @property
    def kind(self) -> type:
        """int or float, from the default."""
        return int if isinstance(self.default, int) else float

    def parse(self, value: object) -> int | float:
        """Coerce and bound-check a value for this parameter."""
        try:
            text = str(value).strip()
            number: int | float = int(text) if self.kind is int else float(text)
        except ValueError:
            raise InputError(
                f"--param {self.name}: expected {self.kind.__name__}, got {value!r}"
            ) from None
        if not self.low <= number <= self.high:
            raise InputError(
                f"--param {self.name}: {number} is outside {self.low}..{self.high}"
            )
        return number


@dataclass(frozen=True, slots=True)
class Signals:
    """Entries and exits per candle (decided at that candle's close) and indicators."""

    entries: BoolArray
    exits: BoolArray
    indicators: Mapping[str, FloatArray] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Stops:
    """Protective exits as fractions of the entry price (0.05 = 5%); None = off."""

    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None


class Strategy(ABC):
    """Base class: subclasses set `name`, `params`, a docstring, and `signals`."""

    name: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    # How many recent candles the default `stream()` hands to `signals()` at each
    # candle in paper and live trading: more than any look-back the strategy has.
    live_history: ClassVar[int] = 1000

    def __init__(self, **values: Any) -> None:
        known = {p.name: p for p in self.params}
        unknown = sorted(set(values) - set(known))
        if unknown:
            names = ", ".join(known) or "none"
            raise InputError(
                f"{self.name} has no parameter {unknown[0]!r}; its parameters: {names}"
            )
        self.values: dict[str, int | float] = {
            name: param.parse(values[name]) if name in values else param.default
            for name, param in known.items()
        }
        self.validate()

    def validate(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Refuse combinations that make no sense (for example fast >= slow)."""

    @abstractmethod
    def signals(self, candles: Candles) -> Signals:
        """Entries and exits for every candle, from candles up to each one only."""

    def stops(self) -> Stops:
        """Protective exits; none unless the strategy sets them."""
        return Stops()

    def stream(self) -> SignalStream:
        """Decisions one closed candle at a time, for paper and live trading.

        By default `signals()` runs over the last `live_history` candles at each
        candle: the backtest's decisions only where they depend on fewer candles
        than that and on no state carried from earlier ones (a rolling maximum,
        an SMA compared with a tolerance; not an EMA or RSI; see WindowedStream).
        A strategy that overrides this with a stream of its own decides exactly
        as in the backtest, at a small cost per candle.
        """
        return WindowedStream(self, self.live_history)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.values.items())
        return f"{self.name}({args})"
