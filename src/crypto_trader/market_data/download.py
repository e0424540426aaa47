"""Downloading candles from an exchange into the store, page by page.

The loop is our own (ccxt's `paginate` stops after ten pages and quietly moves an
old `since` forward). Each request asks for the largest page the exchange allows,
or fewer when fewer candles remain before the end of the span. Pages are checked
as they arrive and merged into the store in batches (see pending_candles), and
what is held is committed when the download fails or stops: a download killed at
any moment resumes from the stored candles, with no duplicate and no hole (see
download_plan).

Walking forward, the next request starts one timeframe after the last candle the
page brought. Candles outside the requested span, repeated ones and ones out of
order are cut or sorted out; a still-open candle is never stored. The walk stops
at the end of the span, or as soon as a page holds a candle at or after it: the
exchange has then answered for the whole span. For N candles it makes
ceil(N / page) requests and no extra one, since the end is known from `until` or
the source's clock.

An empty page means the exchange has no candle in the window it was asked for,
`limit` candles from `since` (a hole in its history, or a time before the market
opened): the walk skips that window and goes on, so it always advances and never
asks for more than the span holds. Exchanges that answer from `since` onward,
whatever the window (Binance), send an empty page only after their last candle
(a market that stopped trading); ones that answer for a window only (Coinbase)
also for a hole or before the market opened. Each empty window costs a request.

Walking backward (candles earlier than the first stored one), each request asks
for the page-sized window just below the first stored candle, down to `since`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from crypto_trader.errors import ExchangeError
from crypto_trader.market_data.candle_checks import first_invalid
from crypto_trader.market_data.candle_store import CandleStore, SeriesSummary
from crypto_trader.market_data.candles import Candles
from crypto_trader.market_data.download_plan import Span, plan_download
from crypto_trader.market_data.ohlcv_rows import rows_to_candles, within
from crypto_trader.market_data.pending_candles import PendingCandles
from crypto_trader.market_data.rate_limiter import MonotonicClock, RateLimiter
from crypto_trader.market_data.series import SeriesId
from crypto_trader.market_data.timeframes import Timeframe
from crypto_trader.market_data.timestamps import format_timestamp_ms

log = logging.getLogger(__name__)

# Called after each page with the series, the open times covered so far and
# those planned, both counted in candles.
ProgressCallback = Callable[[SeriesId, int, int], None]


if TYPE_CHECKING:
    from crypto_trader.installation import Installation


class OhlcvSource(Protocol):
    """One exchange's candles, as the download loop needs them.

    `fetch_ohlcv` returns ccxt's rows `[timestamp_ms, open, high, low, close,
    volume]` for candles opening at or after `since_ms`, about `limit` of them,
    in any order, perhaps with some outside what was asked and with the
    still-open candle. An empty list means the exchange has no candle from
    `since_ms` for `limit` candles. It may be called from several threads at
    once, retries transient failures itself, and raises CryptoTraderError
    (InputError for a symbol the exchange does not list).
    """

    exchange_id: str

    def max_page(self, timeframe: Timeframe) -> int:
        """The most candles the exchange returns for one request."""
        ...

    def request_interval_ms(self) -> float:
        """The shortest time between two requests that the exchange allows."""
        ...

    def fetch_ohlcv(
        self, symbol: str, timeframe: Timeframe, since_ms: int, limit: int
    ) -> list[list[float]]:
        """Up to `limit` candles opening at or after `since_ms` (see the class)."""
        ...

    def now_ms(self) -> int:
        """The source's time in UTC epoch milliseconds (the exchange's clock)."""
        ...

    def close(self) -> None:
        """Release the connection and any key material; called once, at the end."""
        ...


def open_source(
    installation: Installation, exchange_id: str, key_label: str | None
) -> OhlcvSource:
    """The candle source of `exchange_id`, through the exchange layer.

    `key_label` names a stored key to sign with; public candles need none.
    """
    from crypto_trader.exchanges.ohlcv_source import open_ohlcv_source

    return open_ohlcv_source(installation, exchange_id, key_label)


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """What one series' download did: requests sent and candles new to the store.

    `summary` is the stored series after it, None while nothing is stored.
    """

    series: SeriesId
    requests: int
    added: int
    summary: SeriesSummary | None


class PacedSource:
    """A source whose requests wait for a shared rate limiter first."""

    def __init__(self, source: OhlcvSource, limiter: RateLimiter) -> None:
        self.exchange_id = source.exchange_id
        self.source = source
        self.limiter = limiter

    def max_page(self, timeframe: Timeframe) -> int:
        """The wrapped source's page size."""
        return self.source.max_page(timeframe)

    def request_interval_ms(self) -> float:
        """The wrapped source's interval, which the limiter enforces."""
        return self.source.request_interval_ms()

    def fetch_ohlcv(
        self, symbol: str, timeframe: Timeframe, since_ms: int, limit: int
    ) -> list[list[float]]:
        """Wait for a slot, then ask the wrapped source."""
        self.limiter.wait()
        return self.source.fetch_ohlcv(symbol, timeframe, since_ms, limit)

    def now_ms(self) -> int:
        """The wrapped source's clock."""
        return self.source.now_ms()

    def close(self) -> None:
        """Close the wrapped source."""
        self.source.close()


def download_series(
    store: CandleStore,
    source: OhlcvSource,
    series: SeriesId,
    since_ms: int | None = None,
    until_ms: int | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    clock: MonotonicClock | None = None,
) -> DownloadResult:
    """Fetch the closed candles of `series` in [since_ms, until_ms) into `store`.

    Without `since_ms` a stored series continues from its last candle (see
    plan_download for the rest). Pages are committed in batches, and at least
    every COMMIT_INTERVAL_S on `clock` (monotonic seconds) when one is given;
    `stop` ends the download between pages. Raises the source's
    CryptoTraderError, and ExchangeError when the exchange sends rows or
    candles the store refuses; the pages before are stored either way.
    """
    run = _SeriesDownload(store, source, series, progress, stop, clock)
    return run.run(since_ms, until_ms)


class _SeriesDownload:
    """The state of one series' download: its page walks and what they stored."""

    def __init__(
        self,
        store: CandleStore,
        source: OhlcvSource,
        series: SeriesId,
        progress: ProgressCallback | None,
        stop: threading.Event | None,
        clock: MonotonicClock | None,
    ) -> None:
        if series.exchange != source.exchange_id:
            raise ValueError(f"{series} cannot come from {source.exchange_id}")
        self.store = store
        self.source = source
        self.series = series
        self.timeframe = series.timeframe
        self.progress = progress
        self.stop = stop or threading.Event()
        self.summary = store.summary(series) if store.exists(series) else None
        self.anchor_ms = None if self.summary is None else self.summary.first_ms
        self.pending = PendingCandles(
            0 if self.summary is None else self.summary.candles, clock
        )
        self.requests = 0
        self.added = 0
        self.covered = 0
        self.planned = 0

    def run(self, since_ms: int | None, until_ms: int | None) -> DownloadResult:
        stored = None
        if self.summary is not None:
            stored = (self.summary.first_ms, self.summary.last_ms)
        now_ms = self.source.now_ms()
        plan = plan_download(self.timeframe, stored, since_ms, until_ms, now_ms)
        self.planned = plan.slots(self.timeframe)
        self._report(0)
        try:
            if plan.later is not None:
                self._walk_forward(plan.later)
            if plan.earlier is not None:
                self._walk_backward(plan.earlier)
        finally:
            self._commit()
        if self.covered < self.planned and not self.stop.is_set():
            self._report(self.planned - self.covered)
        log.info(
            "%s: %d requests, %d new candles", self.series, self.requests, self.added
        )
        return DownloadResult(self.series, self.requests, self.added, self.summary)

    def _walk_forward(self, span: Span) -> None:
        page = self._page_size()
        cursor = span.start_ms
        while cursor < span.end_ms and not self.stop.is_set():
            window = Span(cursor, span.end_ms)
            limit = min(page, window.slots(self.timeframe))
            candles, beyond = within(self._fetch(cursor, limit), window)
            self._store(candles)
            if len(candles):
                step_to = int(candles.timestamp_ms[-1]) + self.timeframe.ms
            else:  # nothing in this window: skip it (see the module's notes)
                step_to = cursor + limit * self.timeframe.ms
            if beyond:
                step_to = span.end_ms
            self._report(Span(cursor, min(step_to, span.end_ms)).slots(self.timeframe))
            cursor = step_to

    def _walk_backward(self, span: Span) -> None:
        page = self._page_size()
        upper = span.end_ms
        while upper > span.start_ms and not self.stop.is_set():
            lower = max(span.start_ms, upper - page * self.timeframe.ms)
            window = Span(lower, upper)
            limit = window.slots(self.timeframe)
            candles, _ = within(self._fetch(lower, limit), window)
            self._store(candles)
            self._report(limit)
            upper = lower

    def _page_size(self) -> int:
        page = self.source.max_page(self.timeframe)
        if page < 1:
            raise ValueError(f"{self.source.exchange_id} gave page size {page}")
        return page

    def _fetch(self, since_ms: int, limit: int) -> Candles:
        self.requests += 1
        log.debug("%s: %d candles from %s", self.series, limit, since_ms)
        symbol = str(self.series.symbol)
        rows = self.source.fetch_ohlcv(symbol, self.timeframe, since_ms, limit)
        return rows_to_candles(rows, str(self.series))

    def _store(self, candles: Candles) -> None:
        """Check one page as the store will, and commit it when it is due."""
        if len(candles) == 0:
            return
        if self.anchor_ms is None:
            self.anchor_ms = int(candles.timestamp_ms[0])
        finding = first_invalid(candles, self.timeframe, self.anchor_ms)
        if finding is not None:
            opened = format_timestamp_ms(int(candles.timestamp_ms[finding.index]))
            raise ExchangeError(
                f"{self.series}: the exchange sent an invalid candle at {opened} "
                f"({finding.reason}); the download stopped before it"
            )
        self.pending.add(candles)
        if self.pending.due():
            self._commit()

    def _commit(self) -> None:
        if len(self.pending) == 0:
            return
        result = self.store.merge(self.series, self.pending.take())
        self.added += result.added
        self.summary = result.summary

    def _report(self, slots: int) -> None:
        self.covered += slots
        if self.progress is not None:
            self.progress(self.series, self.covered, self.planned)
