"""MACD: buy when the MACD line crosses above its signal line."""

from __future__ import annotations

from typing import ClassVar

from crypto_trader.backtest import indicators
from crypto_trader.backtest.strategy import Param, Signals, Strategy
from crypto_trader.backtest.streaming import CrossingStream, MacdStream, SignalStream
from crypto_trader.errors import InputError
from crypto_trader.market_data.candles import Candles


class Macd(Strategy):
    """Momentum: long while the MACD line is above its signal line.

    The MACD line is the fast exponential moving average of the close minus the
    slow one; the signal line is an exponential average of the MACD line. Each
    average is seeded with the simple mean of its first `span` values. Enters
    when the MACD line crosses above the signal line and exits when it crosses
    below.
    """

    name = "macd"
    params: ClassVar[tuple[Param, ...]] = (
        Param("fast", 12, 2, 100, 1, "span of the fast EMA, in candles"),
        Param("slow", 26, 3, 300, 1, "span of the slow EMA, in candles"),
        Param("signal", 9, 2, 100, 1, "span of the signal line's EMA, in candles"),
    )

    def validate(self) -> None:
        """The fast average must have a shorter span than the slow one."""
        fast, slow = self.values["fast"], self.values["slow"]
        if fast >= slow:
            raise InputError(f"macd: fast ({fast}) must be less than slow ({slow})")

    def signals(self, candles: Candles) -> Signals:
        """Entries where MACD crosses above its signal line, exits where below."""
        line, signal, histogram = indicators.macd(
            candles.close,
            int(self.values["fast"]),
            int(self.values["slow"]),
            int(self.values["signal"]),
        )
        up, down = indicators.crossings(line, signal)
        shown = {"macd": line, "signal": signal, "histogram": histogram}
        return Signals(up, down, shown)

    def stream(self) -> SignalStream:
        """The same lines crossing, one candle at a time."""
        return MacdSignalStream(
            int(self.values["fast"]),
            int(self.values["slow"]),
            int(self.values["signal"]),
        )


class MacdSignalStream(SignalStream):
    """macd's decisions one candle at a time, bit for bit as its signals()."""

    __slots__ = ("_crossing", "_lines")

    def __init__(self, fast: int, slow: int, signal: int) -> None:
        self._lines = MacdStream(fast, slow, signal)
        self._crossing = CrossingStream()

    def update(
        self, open: float, high: float, low: float, close: float, volume: float
    ) -> tuple[bool, bool]:
        """(entry, exit): the MACD line crossing above its signal line, or below."""
        line, signal, _ = self._lines.update(float(close))
        return self._crossing.update(line, signal)
