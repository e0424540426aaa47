"""Pages of a download held back until they are worth a commit to the store.

A commit rewrites the series' file whole, so committing every page costs time in
proportion to the stored candles, again and again: quadratic in a long download.
Pages are held until they are as many candles as the series stores (so each
commit at least doubles the file, and all of them together write about twice
its final size), or until COMMIT_INTERVAL_S has passed since the last commit (so
a killed download loses at most that much work: the next run fetches it again).
The first page is committed at once.
"""

from __future__ import annotations

import numpy as np

from crypto_trader.market_data.candles import Candles, candles_from_columns
from crypto_trader.market_data.rate_limiter import MonotonicClock

COMMIT_INTERVAL_S = 5.0


class PendingCandles:
    """Candles fetched and checked, not yet committed to the store."""

    def __init__(self, stored: int, clock: MonotonicClock | None) -> None:
        self._pages: list[Candles] = []
        self._count = 0
        self._stored = stored
        self._clock = clock
        self._since_s = clock() if clock is not None else 0.0

    def __len__(self) -> int:
        return self._count

    def add(self, candles: Candles) -> None:
        """Hold one page."""
        if len(candles):
            self._pages.append(candles)
            self._count += len(candles)

    def due(self) -> bool:
        """Whether the held pages should be committed now."""
        if self._count == 0:
            return False
        if self._count >= self._stored:
            return True
        if self._clock is None:
            return False
        return self._clock() - self._since_s >= COMMIT_INTERVAL_S

    def take(self) -> Candles:
        """All held candles in one value; the pages are then counted as stored."""
        pages, self._pages = self._pages, []
        self._stored += self._count
        self._count = 0
        if self._clock is not None:
            self._since_s = self._clock()
        if len(pages) == 1:
            return pages[0]
        columns = zip(*(page.columns() for page in pages), strict=True)
        return candles_from_columns([np.concatenate(column) for column in columns])
