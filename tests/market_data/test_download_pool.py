"""Several series at once: one rate limiter per exchange, failures kept apart."""

from __future__ import annotations

import logging
import signal
import threading

import pytest

from crypto_trader.errors import ExchangeError
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.download_pool import DownloadJob, download_all
from crypto_trader.market_data.rate_limiter import RateLimiter
from crypto_trader.market_data.series import SeriesId, series_id
from crypto_trader.market_data.timeframes import HOUR_MS
from tests.market_data.conftest import START_MS, assert_same_candles
from tests.market_data.fake_ohlcv_source import (
    Failure,
    FakeExchange,
    VirtualClock,
    hourly,
)

SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
NOW_MS = START_MS + 100 * HOUR_MS


class SteppingClock:
    """A shared clock that moves only when something sleeps; sleeps are logged."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def market(exchange: str, symbol: str) -> SeriesId:
    return series_id(exchange, symbol, "1h")


def histories(symbols: tuple[str, ...] = SYMBOLS) -> dict[str, object]:
    return {symbol: hourly(100, seed=seed) for seed, symbol in enumerate(symbols)}


def test_the_limiter_spaces_requests_by_its_interval() -> None:
    clock = SteppingClock()
    limiter = RateLimiter(0.5, clock, clock.sleep)

    limiter.wait()
    limiter.wait()
    clock.now += 0.2
    limiter.wait()
    clock.now += 3.0
    limiter.wait()

    assert clock.sleeps == [0.5, pytest.approx(0.3)]


def test_the_limiter_refuses_a_negative_interval() -> None:
    clock = SteppingClock()
    with pytest.raises(ValueError, match="zero or more"):
        RateLimiter(-1.0, clock, clock.sleep)


def test_concurrent_symbols_share_the_exchanges_rate_limit(
    store: CandleStore,
) -> None:
    clock = VirtualClock()
    source = FakeExchange(histories(), NOW_MS, page=10, interval_ms=500, clock=clock)
    jobs = [
        DownloadJob(market("binance", s), source, since_ms=START_MS) for s in SYMBOLS
    ]

    outcomes = download_all(store, jobs, clock, clock.sleep, workers=4)

    assert [o.series for o in outcomes] == [job.series for job in jobs]
    assert [(o.error, o.result and o.result.requests) for o in outcomes] == [
        (None, 10)
    ] * 3
    assert sorted(r.at_s for r in source.requests) == [0.5 * n for n in range(30)]
    for symbol in SYMBOLS:
        assert_same_candles(
            store.load(market("binance", symbol)), source.history[symbol]
        )


def test_each_exchange_has_its_own_limiter(store: CandleStore) -> None:
    clock = VirtualClock()
    slow = FakeExchange(
        histories(SYMBOLS[:2]), NOW_MS, page=25, interval_ms=1000, clock=clock
    )
    fast = FakeExchange(
        histories(SYMBOLS[:2]),
        NOW_MS,
        page=25,
        interval_ms=250,
        clock=clock,
        exchange_id="kraken",
    )
    jobs = [
        DownloadJob(market(source.exchange_id, symbol), source, START_MS)
        for source in (slow, fast)
        for symbol in SYMBOLS[:2]
    ]

    outcomes = download_all(store, jobs, clock, clock.sleep)

    assert all(outcome.error is None for outcome in outcomes)
    assert sorted(r.at_s for r in slow.requests) == [1.0 * n for n in range(8)]
    assert sorted(r.at_s for r in fast.requests) == [0.25 * n for n in range(8)]


def test_a_failing_symbol_does_not_affect_the_others(
    store: CandleStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = VirtualClock()
    broken = FakeExchange(
        histories(),
        NOW_MS,
        page=10,
        failures={
            "ETH/USDT": Failure(2, ExchangeError("binance is in maintenance")),
            "SOL/USDT": Failure(0, ZeroDivisionError("a bug")),
        },
    )
    jobs = [DownloadJob(market("binance", s), broken, START_MS) for s in SYMBOLS]

    with caplog.at_level(logging.INFO):
        btc, eth, sol = download_all(store, jobs, clock, clock.sleep)

    assert btc.error is None
    assert isinstance(eth.error, ExchangeError)
    assert isinstance(sol.error, ZeroDivisionError)
    assert_same_candles(store.load(btc.series), broken.history["BTC/USDT"])
    eth_history = broken.history["ETH/USDT"]
    assert_same_candles(store.load(eth.series), eth_history.take(slice(0, 20)))
    assert not store.exists(sol.series)
    assert "ETH/USDT 1h: download failed (ExchangeError)" in caplog.text
    assert "a bug" in caplog.text  # an unexpected failure is logged in full

    healed = FakeExchange(histories(), NOW_MS, page=10)
    again = download_all(store, jobs_for(healed), clock, clock.sleep)
    assert [o.result and o.result.requests for o in again] == [0, 8, 10]
    for symbol in SYMBOLS:
        assert_same_candles(
            store.load(market("binance", symbol)), healed.history[symbol]
        )


def jobs_for(source: FakeExchange) -> list[DownloadJob]:
    return [DownloadJob(market("binance", s), source, START_MS) for s in SYMBOLS]


def test_stop_ends_running_series_and_skips_the_rest(store: CandleStore) -> None:
    clock = VirtualClock()
    source = FakeExchange(histories(), NOW_MS, page=10)
    stop = threading.Event()

    def stop_after_a_page(series: SeriesId, covered: int, planned: int) -> None:
        if covered:
            stop.set()

    outcomes = download_all(
        store,
        jobs_for(source),
        clock,
        clock.sleep,
        workers=1,
        progress=stop_after_a_page,
        stop=stop,
    )

    assert [o.result and o.result.requests for o in outcomes] == [1, 0, 0]
    assert source.sinces() == [START_MS]


def test_an_interrupt_stops_the_downloads_and_is_raised_again(
    store: CandleStore,
) -> None:
    clock = VirtualClock()
    source = FakeExchange(histories(), NOW_MS, page=10)
    stop = threading.Event()

    def interrupt_after_a_page(series: SeriesId, covered: int, planned: int) -> None:
        if covered:  # Ctrl-C reaches the main thread, waiting for the outcomes
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
            assert stop.wait(timeout=30)

    with pytest.raises(KeyboardInterrupt):
        download_all(
            store,
            jobs_for(source),
            clock,
            clock.sleep,
            workers=1,
            progress=interrupt_after_a_page,
            stop=stop,
        )

    assert source.sinces() == [START_MS]  # the first page, then nothing
    assert store.summary(market("binance", "BTC/USDT")).candles == 10


def test_no_jobs_no_outcomes(store: CandleStore) -> None:
    clock = VirtualClock()
    assert download_all(store, [], clock, clock.sleep) == []
