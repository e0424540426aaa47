"""An exchange's OHLCV rows turned into candles, cut to the span a request asked for.

The rows are ccxt's: `[timestamp_ms, open, high, low, close, volume]`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crypto_trader.errors import ExchangeError
from crypto_trader.market_data.candles import Candles, candles_from_arrays, sort_unique
from crypto_trader.market_data.download_plan import Span

ROW_LENGTH = 6


def rows_to_candles(rows: Sequence[Sequence[float | None]], where: str) -> Candles:
    """The rows as candles, sorted by open time, one per open time (the last wins).

    A missing value becomes NaN, which the store's checks then refuse. Raises
    ExchangeError, naming `where`, for rows that are not six numbers or
    whose open time is not a whole number of milliseconds.
    """
    if len(rows) == 0:
        return candles_from_arrays([], [], [], [], [], [])
    if any(len(row) != ROW_LENGTH for row in rows):
        raise ExchangeError(
            f"{where}: the exchange sent rows that are not "
            "[timestamp_ms, open, high, low, close, volume]"
        )
    try:
        table = np.array(rows, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExchangeError(
            f"{where}: the exchange sent rows that are not numbers"
        ) from None
    times = table[:, 0]
    if not (np.isfinite(times).all() and (times == np.floor(times)).all()):
        raise ExchangeError(
            f"{where}: the exchange sent an open time that is not whole milliseconds"
        )
    columns = [table[:, index] for index in range(1, ROW_LENGTH)]
    candles, _ = sort_unique(candles_from_arrays(times.astype(np.int64), *columns))
    return candles


def within(candles: Candles, span: Span) -> tuple[Candles, bool]:
    """The sorted `candles` that open in `span`, and whether any opens after it.

    A candle at or after the span's end shows that the exchange has answered for
    the whole span.
    """
    times = candles.timestamp_ms
    lower = int(np.searchsorted(times, span.start_ms, side="left"))
    upper = int(np.searchsorted(times, span.end_ms, side="left"))
    beyond = upper < len(times)
    if lower == 0 and not beyond:
        return candles, beyond
    return candles.take(slice(lower, upper)), beyond
