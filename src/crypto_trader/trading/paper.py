"""Paper fills: the backtest's fill, fee and slippage rules, against the books.

A market order decided at a close fills at the next candle's open (`next-open`)
or at once at that close (`close`); protective exits fill at the level the
candle reached. Prices, amounts and fees come from the engine kernel's formulas.
"""

from __future__ import annotations

from crypto_trader.trading.books import Books
from crypto_trader.trading.model import OrderState
from crypto_trader.trading.risk import MarketRules
from crypto_trader.trading.store import TradeOrder


class PaperBroker:
    """Fills orders in the books as the backtest would."""

    def __init__(self, books: Books, timeframe_ms: int, echo: bool) -> None:
        self.books = books
        self._config = books.config
        self._slippage = books.config.slippage_bps / 10_000
        self._timeframe_ms = timeframe_ms
        self._echo = echo

    def reconcile(self) -> None:
        """Nothing to ask: the books are the exchange."""

    def poll(self) -> None:
        """Nothing to ask: paper orders fill on candles."""

    def market_rules(self, symbol: str) -> MarketRules | None:
        """None: a paper session applies no market rounding (as the backtest)."""
        return None

    def on_open(self, symbol: str, time_ms: int, price: float) -> None:
        """Fill `symbol`'s orders decided at an earlier close at this open."""
        for order in self.books.orders_of(symbol):
            if order.candle_ms < time_ms and order.state is OrderState.NEW:
                self._fill(order, price, time_ms, time_ms)

    def send(self, order: TradeOrder, quote: float, time_ms: int, now: bool) -> None:
        """Fill at `quote` now (close fill, protective exit), else at the next open."""
        if now:
            self._fill(order, quote, time_ms, time_ms + self._timeframe_ms)

    def cancel_all(self, note: str) -> None:
        """Cancel every order still waiting for a fill."""
        for order in list(self.books.in_flight.values()):
            self.books.close(order, OrderState.CANCELLED, note, "cancelled")

    def close(self) -> None:
        """Nothing to release."""

    def _fill(self, order: TradeOrder, quote: float, time_ms: int, watch: int) -> None:
        sleeve = self.books.sleeves[order.symbol]
        fee_rate = self._config.fee_rate
        if order.side == "buy":
            # The kernel's entry: slippage, then the stake's budget, fee included.
            price = quote * (1.0 + self._slippage)
            budget = sleeve.budget(self._config)
            if not budget > 0.0:
                self.books.close(order, OrderState.REJECTED, "no cash left", "rejected")
                return
            amount = budget / (price * (1.0 + fee_rate))
        else:
            price = quote * (1.0 - self._slippage)
            amount = sleeve.amount
            if not amount > 0.0:
                self.books.close(order, OrderState.CANCELLED, "no position", None)
                return
        fee = amount * price * fee_rate
        filled = self.books.fill(order, amount, price, fee, time_ms, watch)
        if self._echo:
            self.books.log_fill(filled, amount, price)
