"""A fake exchange for download tests: a fixed history, an exact request log, quirks.

It answers `fetch_ohlcv` the way real exchanges do: from `since` onward (Binance),
or only for the window of `limit` candles from `since` (Coinbase), newest first
or with a candle before `since` on demand. Candles that have not opened by the
fake's `now_ms` do not exist yet; the one that has opened but not closed is sent
like any other, as exchanges do.

The child processes of the crash test import `open_child_source` from here (see
download_child.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from crypto_trader.errors import InputError
from crypto_trader.market_data.candles import Candles
from crypto_trader.market_data.timeframes import HOUR_MS, Timeframe
from tests.market_data.conftest import START_MS, make_candles

FROM_SINCE = "from since"  # the first `limit` candles at or after `since`
WINDOW = "window"  # candles in [since, since + limit x timeframe) only


@dataclass(frozen=True, slots=True)
class Request:
    """One `fetch_ohlcv` call as the fake saw it."""

    symbol: str
    since_ms: int
    limit: int
    at_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Failure:
    """Raise `error` on the request after `after` answered ones of a symbol."""

    after: int
    error: Exception


class VirtualClock:
    """Monotonic seconds per thread: a thread's sleep moves only its own time.

    With requests that take no time, the times at which a rate limiter lets
    each thread go are then exact, however the threads interleave.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def __call__(self) -> float:
        return float(getattr(self._local, "now", 0.0))

    def sleep(self, seconds: float) -> None:
        self._local.now = self() + seconds


@dataclass
class FakeExchange:
    """An OhlcvSource over `history` (one Candles per symbol), with a request log."""

    history: Mapping[str, Candles]
    now: int
    page: int = 1000
    answers: str = FROM_SINCE
    newest_first: bool = False
    overlap: bool = False
    interval_ms: float = 0.0
    exchange_id: str = "binance"
    clock: Callable[[], float] | None = None
    failures: Mapping[str, Failure] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    closed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def max_page(self, timeframe: Timeframe) -> int:
        return self.page

    def request_interval_ms(self) -> float:
        return self.interval_ms

    def now_ms(self) -> int:
        return self.now

    def close(self) -> None:
        self.closed += 1

    def fetch_ohlcv(
        self, symbol: str, timeframe: Timeframe, since_ms: int, limit: int
    ) -> list[list[float]]:
        at = self.clock() if self.clock else 0.0
        with self._lock:
            answered = self.count(symbol)
            self.requests.append(Request(symbol, since_ms, limit, at))
        if not 1 <= limit <= self.page:
            raise AssertionError(f"limit {limit} outside 1..{self.page}")
        failure = self.failures.get(symbol)
        if failure is not None and answered >= failure.after:
            raise failure.error
        if symbol not in self.history:
            raise InputError(f"{self.exchange_id} has no market {symbol}")
        return self._rows(self.history[symbol], timeframe, since_ms, limit)

    def count(self, symbol: str | None = None) -> int:
        """Requests made so far, for one symbol or all."""
        return sum(1 for r in self.requests if symbol in (None, r.symbol))

    def sinces(self, symbol: str | None = None) -> list[int]:
        """The `since_ms` of each request, in order, for one symbol or all."""
        return [r.since_ms for r in self.requests if symbol in (None, r.symbol)]

    def _rows(
        self, candles: Candles, timeframe: Timeframe, since_ms: int, limit: int
    ) -> list[list[float]]:
        times = candles.timestamp_ms
        begun = times <= self.now
        if self.answers == WINDOW:
            chosen = begun & (times >= since_ms)
            chosen &= times < since_ms + limit * timeframe.ms
            indexes = chosen.nonzero()[0].tolist()
        else:
            indexes = (begun & (times >= since_ms)).nonzero()[0].tolist()[:limit]
        if self.overlap:
            before = (begun & (times < since_ms)).nonzero()[0].tolist()
            indexes = before[-1:] + indexes
        rows = [_row(candles, index) for index in indexes]
        return rows[::-1] if self.newest_first else rows


def _row(candles: Candles, index: int) -> list[float]:
    values = [float(column[index]) for column in candles.columns()[1:]]
    return [int(candles.timestamp_ms[index]), *values]


def hourly(count: int, start_ms: int = START_MS, seed: int = 7) -> Candles:
    """`count` hourly candles from `start_ms`."""
    return make_candles(count, start_ms, HOUR_MS, seed)


# The crash test's exchange: two markets of 600 hourly candles from START_MS, the
# last one still open, served 50 to a page.
CHILD_CANDLES = 600
CHILD_PAGE = 50
CHILD_NOW_MS = START_MS + (CHILD_CANDLES - 1) * HOUR_MS + HOUR_MS // 2
CHILD_SYMBOLS = ("BTC/USDT", "ETH/USDT")


def child_exchange() -> FakeExchange:
    """The exchange the crash test's children download from."""
    history = {
        symbol: hourly(CHILD_CANDLES, seed=seed)
        for seed, symbol in enumerate(CHILD_SYMBOLS)
    }
    return FakeExchange(history, CHILD_NOW_MS, CHILD_PAGE, exchange_id="binance")


def open_child_source(
    installation: object, exchange_id: str, key_label: str | None
) -> FakeExchange:
    """Stands in for `download.open_source` in the crash test's children."""
    assert exchange_id == "binance"
    return child_exchange()
