"""Two simple moving averages of the close: long while the fast one is above."""

from __future__ import annotations

from typing import ClassVar

from crypto_trader.backtest.indicators import crossings, sma
from crypto_trader.backtest.strategy import Param, Signals, Strategy
from crypto_trader.backtest.streaming import CrossingStream, SignalStream, SmaStream
from crypto_trader.errors import InputError
from crypto_trader.market_data.candles import Candles


class SmaCross(Strategy):
    """Trend following: long while the fast average of the close is above the slow one.

    Enters when the fast simple moving average crosses above the slow one and
    exits when it crosses below. The fast average crosses up at candle i when it
    is above the slow one at i and was below it at the last earlier candle where
    the two differed (down the same way); they count as equal when
    abs(fast - slow) <= 1e-9 * abs(slow), so that rounding cannot make a cross.
    """

    name = "sma_cross"
    params: ClassVar[tuple[Param, ...]] = (
        Param("fast", 10, 2, 200, 1, "candles in the fast average"),
        Param("slow", 30, 3, 500, 1, "candles in the slow average"),
    )

    def validate(self) -> None:
        """The fast average must cover fewer candles than the slow one."""
        fast, slow = self.values["fast"], self.values["slow"]
        if fast >= slow:
            raise InputError(
                f"sma_cross: fast ({fast}) must be less than slow ({slow})"
            )

    def signals(self, candles: Candles) -> Signals:
        """Entries where fast crosses above slow, exits where it crosses below."""
        fast_window, slow_window = int(self.values["fast"]), int(self.values["slow"])
        fast = sma(candles.close, fast_window)
        slow = sma(candles.close, slow_window)
        up, down = crossings(fast, slow)
        indicators = {f"sma({fast_window})": fast, f"sma({slow_window})": slow}
        return Signals(up, down, indicators)

    def stream(self) -> SignalStream:
        """The same crossings of the same averages, one candle at a time."""
        return SmaCrossStream(int(self.values["fast"]), int(self.values["slow"]))


class SmaCrossStream(SignalStream):
    """sma_cross's decisions one candle at a time, bit for bit as its signals()."""

    __slots__ = ("_crossing", "_fast", "_slow")

    def __init__(self, fast: int, slow: int) -> None:
        self._fast, self._slow = SmaStream(fast), SmaStream(slow)
        self._crossing = CrossingStream()

    def update(
        self, open: float, high: float, low: float, close: float, volume: float
    ) -> tuple[bool, bool]:
        """(entry, exit): the fast average crossing up, or down, through the slow."""
        price = float(close)
        return self._crossing.update(self._fast.update(price), self._slow.update(price))
