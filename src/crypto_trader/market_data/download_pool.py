"""Downloading several series at once, within each exchange's rate limit.

A small pool of threads works through the series; every request to one source
waits for that source's rate limiter, so the threads share its allowance. A
series that fails is reported in its outcome: what it stored so far stays (each
page is committed whole) and the other series go on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from crypto_trader.errors import CryptoTraderError
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.download import (
    DownloadResult,
    OhlcvSource,
    PacedSource,
    ProgressCallback,
    download_series,
)
from crypto_trader.market_data.rate_limiter import MonotonicClock, RateLimiter, Sleep
from crypto_trader.market_data.series import SeriesId

log = logging.getLogger(__name__)

# Enough to overlap the round trips of a few requests; more would only queue
# behind the exchange's rate limit.
MAX_WORKERS = 4


@dataclass(frozen=True, slots=True)
class DownloadJob:
    """One series to download from `source`, over [since_ms, until_ms)."""

    series: SeriesId
    source: OhlcvSource
    since_ms: int | None = None
    until_ms: int | None = None


@dataclass(frozen=True, slots=True)
class DownloadOutcome:
    """A job's result, or the error that stopped it."""

    series: SeriesId
    result: DownloadResult | None
    error: Exception | None


def download_all(
    store: CandleStore,
    jobs: Sequence[DownloadJob],
    clock: MonotonicClock,
    sleep: Sleep,
    workers: int = MAX_WORKERS,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> list[DownloadOutcome]:
    """Run `jobs` on up to `workers` threads; outcomes come in the order of `jobs`.

    Each distinct source gets one rate limiter (on `clock` and `sleep`) shared
    by all its jobs. Once `stop` is set, or on KeyboardInterrupt, the running
    series stop after their current page and the others do not start; the
    interrupt is then raised again.
    """
    if not jobs:
        return []
    paced = _paced_sources(jobs, clock, sleep)
    stop = stop or threading.Event()

    def run(job: DownloadJob) -> DownloadOutcome:
        source = paced[id(job.source)]
        try:
            result = download_series(
                store,
                source,
                job.series,
                job.since_ms,
                job.until_ms,
                progress,
                stop,
                clock,
            )
        except Exception as exc:
            _log_failure(job.series, exc)
            return DownloadOutcome(job.series, None, exc)
        return DownloadOutcome(job.series, result, None)

    pool = ThreadPoolExecutor(max(1, min(workers, len(jobs))), "download")
    try:
        futures = [pool.submit(run, job) for job in jobs]
        return [future.result() for future in futures]
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _paced_sources(
    jobs: Sequence[DownloadJob], clock: MonotonicClock, sleep: Sleep
) -> dict[int, PacedSource]:
    paced: dict[int, PacedSource] = {}
    for job in jobs:
        if id(job.source) not in paced:
            interval_s = job.source.request_interval_ms() / 1000
            limiter = RateLimiter(interval_s, clock, sleep)
            paced[id(job.source)] = PacedSource(job.source, limiter)
    return paced


def _log_failure(series: SeriesId, exc: Exception) -> None:
    if isinstance(exc, CryptoTraderError):
        log.info("%s: download failed (%s)", series, type(exc).__name__)
    else:
        log.exception("%s: download failed", series)
