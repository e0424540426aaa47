"""Mean reversion on Wilder's RSI: buy when oversold, sell when overbought."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from crypto_trader.backtest.indicators import crossings, rsi
from crypto_trader.backtest.strategy import Param, Signals, Stops, Strategy
from crypto_trader.backtest.streaming import CrossingStream, RsiStream, SignalStream
from crypto_trader.errors import InputError
from crypto_trader.market_data.candles import Candles


class RsiReversion(Strategy):
    """Mean reversion: buy when the RSI falls below oversold, sell above overbought.

    Uses Wilder's RSI of the close over `period` candles. Enters when the RSI
    crosses below `oversold` (it is below at this candle and was above at the
    last earlier candle where it differed from that level) and exits when it
    crosses above `overbought`. A stop-loss, `stop_loss` below the entry price
    (0 turns it off), limits the loss when a fall does not revert.
    """

    name = "rsi_reversion"
    params: ClassVar[tuple[Param, ...]] = (
        Param("period", 14, 2, 100, 1, "candles in Wilder's RSI"),
        Param("oversold", 30.0, 5.0, 50.0, 5.0, "RSI level that a fall crosses to buy"),
        Param(
            "overbought", 70.0, 50.0, 95.0, 5.0, "RSI level that a rise crosses to sell"
        ),
        Param(
            "stop_loss", 0.1, 0.0, 0.5, 0.01, "stop below the entry, 0.1 = 10%; 0 off"
        ),
    )

    def validate(self) -> None:
        """Oversold must lie below overbought."""
        oversold, overbought = self.values["oversold"], self.values["overbought"]
        if oversold >= overbought:
            raise InputError(
                f"rsi_reversion: oversold ({oversold}) must be less than "
                f"overbought ({overbought})"
            )

    def signals(self, candles: Candles) -> Signals:
        """Entries where the RSI crosses below oversold, exits above overbought."""
        strength = rsi(candles.close, int(self.values["period"]))
        oversold = np.full(len(candles), float(self.values["oversold"]))
        overbought = np.full(len(candles), float(self.values["overbought"]))
        _, falls_below = crossings(strength, oversold)
        rises_above, _ = crossings(strength, overbought)
        return Signals(falls_below, rises_above, {"rsi": strength})

    def stream(self) -> SignalStream:
        """The same RSI crossing the same levels, one candle at a time."""
        return RsiReversionStream(
            int(self.values["period"]),
            float(self.values["oversold"]),
            float(self.values["overbought"]),
        )

    def stops(self) -> Stops:
        """The stop-loss, unless it is 0."""
        return Stops(stop_loss=float(self.values["stop_loss"]) or None)


class RsiReversionStream(SignalStream):
    """rsi_reversion's decisions one candle at a time, bit for bit as its signals()."""

    __slots__ = ("_falls", "_overbought", "_oversold", "_rises", "_strength")

    def __init__(self, period: int, oversold: float, overbought: float) -> None:
        self._strength = RsiStream(period)
        self._oversold, self._overbought = oversold, overbought
        self._falls, self._rises = CrossingStream(), CrossingStream()

    def update(
        self, open: float, high: float, low: float, close: float, volume: float
    ) -> tuple[bool, bool]:
        """(entry, exit): the RSI falling below oversold, or rising above overbought."""
        strength = self._strength.update(float(close))
        _, falls_below = self._falls.update(strength, self._oversold)
        rises_above, _ = self._rises.update(strength, self._overbought)
        return falls_below, rises_above
