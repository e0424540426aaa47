"""Bollinger band breakout: buy a close above the upper band."""

from __future__ import annotations

from typing import ClassVar

from crypto_trader.backtest.indicators import bollinger_bands, crossings
from crypto_trader.backtest.strategy import Param, Signals, Stops, Strategy
from crypto_trader.backtest.streaming import (
    BollingerStream,
    CrossingStream,
    SignalStream,
)
from crypto_trader.market_data.candles import Candles


class BollingerBreakout(Strategy):
    """Breakout: buy when the close crosses above the upper Bollinger band.

    The bands lie `width` population standard deviations of the close around
    its simple moving average over `window` candles. Enters when the close
    crosses above the upper band and exits when it crosses below the middle
    band (the average). An optional trailing stop, `trailing_stop` below the
    highest price since entry (0 turns it off), keeps more of a run-up.
    """

    name = "bollinger_breakout"
    params: ClassVar[tuple[Param, ...]] = (
        Param("window", 20, 5, 200, 1, "candles in the average and deviation"),
        Param("width", 2.0, 0.5, 4.0, 0.25, "band distance in standard deviations"),
        Param(
            "trailing_stop",
            0.0,
            0.0,
            0.5,
            0.01,
            "stop below the peak, 0.05 = 5%; 0 off",
        ),
    )

    def signals(self, candles: Candles) -> Signals:
        """Entries where the close crosses the upper band, exits the middle one."""
        lower, middle, upper = bollinger_bands(
            candles.close, int(self.values["window"]), float(self.values["width"])
        )
        breaks_out, _ = crossings(candles.close, upper)
        _, falls_back = crossings(candles.close, middle)
        indicators = {"lower band": lower, "middle band": middle, "upper band": upper}
        return Signals(breaks_out, falls_back, indicators)

    def stream(self) -> SignalStream:
        """The same close crossing the same bands, one candle at a time."""
        return BollingerBreakoutStream(
            int(self.values["window"]), float(self.values["width"])
        )

    def stops(self) -> Stops:
        """The trailing stop, unless it is 0."""
        return Stops(trailing_stop=float(self.values["trailing_stop"]) or None)


class BollingerBreakoutStream(SignalStream):
    """bollinger_breakout's decisions one candle at a time, as its signals()."""

    __slots__ = ("_bands", "_breaks_out", "_falls_back")

    def __init__(self, window: int, width: float) -> None:
        self._bands = BollingerStream(window, width)
        self._breaks_out, self._falls_back = CrossingStream(), CrossingStream()

    def update(
        self, open: float, high: float, low: float, close: float, volume: float
    ) -> tuple[bool, bool]:
        """(entry, exit): the close crossing above the upper band, or below the mean."""
        price = float(close)
        _, middle, upper = self._bands.update(price)
        breaks_out, _ = self._breaks_out.update(price, upper)
        _, falls_back = self._falls_back.update(price, middle)
        return breaks_out, falls_back
