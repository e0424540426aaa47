"""Closed candles for the runner: replayed from the store, or polled from an exchange.

A feed yields `CandleEvent`s, oldest first, and `None` when it has nothing new
(so that the runner can follow its orders and its controls). Candles before the
session's cursor are marked warm-up: the runner only feeds them to the strategy.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Iterator

import numpy as np

from crypto_trader.backtest.runner import load_candles
from crypto_trader.errors import (
    ExchangeNetworkError,
    ExchangeUnavailableError,
    RateLimitedError,
)
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.candles import Candles, candles_from_arrays
from crypto_trader.market_data.download import OhlcvSource, download_series
from crypto_trader.market_data.series import SeriesId
from crypto_trader.trading.runner import CandleEvent

log = logging.getLogger(__name__)

TRANSIENT = (RateLimitedError, ExchangeNetworkError, ExchangeUnavailableError)
MAX_BACKOFF_S = 60.0
PACE_SLICE_S = 0.25
NOTHING_NEW = None


def replay_feed(
    store: CandleStore,
    series: list[SeriesId],
    cursor_ms: int | None,
    speed: float | None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[CandleEvent | None]:
    """Stored candles of every series, merged by time, at `speed` x real time.

    The candles are loaded now, so that a missing series is refused at once.
    """
    streams = [
        _stored_events(load_candles(store, s), str(s.symbol), cursor_ms) for s in series
    ]
    events: Iterator[CandleEvent] = (
        streams[0] if len(streams) == 1 else heapq.merge(*streams, key=_open_time)
    )
    return events if speed is None else _paced(events, speed, sleep)


def _paced(
    events: Iterator[CandleEvent], speed: float, sleep: Callable[[float], None]
) -> Iterator[CandleEvent | None]:
    last_ms: int | None = None
    for event in events:
        if last_ms is not None and event[1] > last_ms and not event[7]:
            # In slices, with a pause event after each, so that the runner sees
            # `trade stop` within a slice however slow the replay.
            wait = (event[1] - last_ms) / 1000 / speed
            while wait > PACE_SLICE_S:
                sleep(PACE_SLICE_S)
                wait -= PACE_SLICE_S
                yield None
            sleep(wait)
        last_ms = event[1]
        yield event


def _open_time(event: CandleEvent) -> int:
    return event[1]


def _stored_events(
    candles: Candles, symbol: str, warm_before_ms: int | None
) -> Iterator[CandleEvent]:
    # Plain Python floats, in bulk: the runner's arithmetic then matches the
    # kernel's bit for bit, and iteration costs no numpy scalar per value.
    times = candles.timestamp_ms.tolist()
    warm_until = (
        0
        if warm_before_ms is None
        else int(np.searchsorted(candles.timestamp_ms, warm_before_ms, "left"))
    )
    rows = zip(
        times,
        candles.open.tolist(),
        candles.high.tolist(),
        candles.low.tolist(),
        candles.close.tolist(),
        candles.volume.tolist(),
        strict=True,
    )
    for index, (t, o, h, low, c, v) in enumerate(rows):
        yield (symbol, t, o, h, low, c, v, index < warm_until)


class ExchangeFeed:
    """Polls an exchange for each symbol's newly closed candles, storing them too.

    At start the store is brought up to date and its candles are warm-up, so the
    strategy's indicators start from the same first candle as a backtest of the
    stored series. On a resumed session the candle at the cursor is processed
    again (what it already did is not repeated), and candles that closed while
    the runner was down are warm-up: a stale signal is never traded.
    """

    def __init__(
        self,
        store: CandleStore,
        source: OhlcvSource,
        series: list[SeriesId],
        cursor_ms: int | None,
        poll_s: float,
        notify: Callable[[str], None],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.source = source
        self.series = series
        self.cursor_ms = cursor_ms
        self.poll_s = poll_s
        self.notify = notify
        self._sleep = sleep
        self._last: dict[str, int] = {}
        self._backoff = 0.0

    def __iter__(self) -> Iterator[CandleEvent | None]:
        yield from self._history()
        while True:
            fresh = self._poll_once()
            if fresh:
                yield from fresh
            else:
                yield NOTHING_NEW
                self._sleep(self._backoff or self.poll_s)

    def _history(self) -> Iterator[CandleEvent]:
        streams = []
        for series in self.series:
            self._catch_up(series)
            candles = load_candles(self.store, series)
            symbol = str(series.symbol)
            self._last[symbol] = int(candles.timestamp_ms[-1])
            streams.append(self._history_events(candles, symbol))
        yield from heapq.merge(*streams, key=_open_time)

    def _history_events(self, candles: Candles, symbol: str) -> Iterator[CandleEvent]:
        cursor = self.cursor_ms
        missed = 0
        for event in _stored_events(candles, symbol, None):
            live = cursor is not None and event[1] == cursor
            if cursor is not None and event[1] > cursor:
                missed += 1
            yield (*event[:7], not live)
        if missed:
            self.notify(
                f"{symbol}: {missed} candles closed while the runner was down; "
                "they were fed to the strategy, not traded"
            )

    def _catch_up(self, series: SeriesId) -> None:
        while True:
            try:
                download_series(self.store, self.source, series)
                return
            except TRANSIENT as exc:
                self._wait_after(exc)

    def _poll_once(self) -> list[CandleEvent]:
        fresh: list[CandleEvent] = []
        for series in self.series:
            try:
                fresh.extend(self._new_candles(series))
            except TRANSIENT as exc:
                self._wait_after(exc, sleep=False)
                return fresh
        self._backoff = 0.0
        fresh.sort(key=_open_time)
        return fresh

    def _new_candles(self, series: SeriesId) -> list[CandleEvent]:
        symbol = str(series.symbol)
        step = series.timeframe.ms
        last = self._last[symbol]
        now = self.source.now_ms()
        if last + 2 * step > now:  # the next candle has not closed yet
            return []
        rows = self.source.fetch_ohlcv(symbol, series.timeframe, last + step, 100)
        closed = sorted(
            (row for row in rows if last < int(row[0]) and int(row[0]) + step <= now),
            key=lambda row: int(row[0]),
        )
        if not closed:
            return []
        columns = list(zip(*closed, strict=True))
        self.store.merge(series, candles_from_arrays(*columns))
        self._last[symbol] = int(closed[-1][0])
        return [
            (
                symbol,
                int(r[0]),
                float(r[1]),
                float(r[2]),
                float(r[3]),
                float(r[4]),
                float(r[5]),
                False,
            )
            for r in closed
        ]

    def _wait_after(self, exc: Exception, sleep: bool = True) -> None:
        self._backoff = min(max(self._backoff * 2, self.poll_s, 1.0), MAX_BACKOFF_S)
        # A warning is also the terminal's line (the log prints warnings there).
        log.warning(
            "the exchange did not answer a candle request (%s); trying again in %.0f s",
            type(exc).__name__,
            self._backoff,
        )
        if sleep:
            self._sleep(self._backoff)
