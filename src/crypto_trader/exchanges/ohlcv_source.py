"""Candles from an exchange, through the door, in the shape the download loop wants."""

from __future__ import annotations

import threading
from typing import Any

from crypto_trader.clock import Clock, system_clock
from crypto_trader.exchanges.door import ExchangeDoor
from crypto_trader.installation import Installation
from crypto_trader.market_data.timeframes import Timeframe

DEFAULT_PAGE = 500


class ExchangeOhlcvSource:
    """An exchange's public OHLCV endpoint; thread-safe, one request at a time."""

    def __init__(self, door: ExchangeDoor, clock: Clock = system_clock) -> None:
        self.exchange_id = door.exchange_id
        self._door = door
        self._clock = clock
        self._lock = threading.Lock()
        self._markets_loaded = False

    def max_page(self, timeframe: Timeframe) -> int:
        """The largest page ccxt knows the exchange allows for candles."""
        features: Any = self._door.client.features or {}
        limit = features.get("spot", {}).get("fetchOHLCV", {}).get("limit")
        return int(limit) if isinstance(limit, int) and limit > 0 else DEFAULT_PAGE

    def request_interval_ms(self) -> float:
        """ccxt's spacing between requests for this exchange."""
        return float(self._door.client.rateLimit)

    def fetch_ohlcv(
        self, symbol: str, timeframe: Timeframe, since_ms: int, limit: int
    ) -> list[list[float]]:
        """Up to `limit` candles from `since_ms` (a read, retried on trouble)."""
        self._load_markets()
        rows: list[list[float]] = self._door.read(
            "fetch_ohlcv",
            lambda c: c.fetch_ohlcv(symbol, timeframe.value, since_ms, limit),
        )
        return rows

    def now_ms(self) -> int:
        """The time now, in UTC epoch milliseconds."""
        return int(self._clock().timestamp() * 1000)

    def _load_markets(self) -> None:
        # Once, before the threads' first requests, so they do not each load them.
        with self._lock:
            if not self._markets_loaded:
                self._door.read("load_markets", lambda c: c.load_markets())
                self._markets_loaded = True

    def close(self) -> None:
        """Close the door (and drop any key material)."""
        self._door.close()


def open_ohlcv_source(
    installation: Installation, exchange_id: str, key_label: str | None
) -> ExchangeOhlcvSource:
    """A candle source for `exchange_id`, public or signed with a stored key."""
    from crypto_trader.exchanges.sessions import (
        check_key_exchange,
        open_keyed_door,
        open_public_door,
    )

    if key_label is None:
        return ExchangeOhlcvSource(open_public_door(installation, exchange_id))
    check_key_exchange(installation, key_label, exchange_id)
    return ExchangeOhlcvSource(open_keyed_door(installation, key_label))
