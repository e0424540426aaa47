"""The download loop against a fake exchange: exact requests, boundaries, resume."""

from __future__ import annotations

import math
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto_trader.errors import ExchangeError, InputError
from crypto_trader.market_data.candle_store import CandleStore, MergeResult
from crypto_trader.market_data.candles import Candles, candles_from_arrays
from crypto_trader.market_data.download import download_series
from crypto_trader.market_data.download_plan import DEFAULT_HISTORY_MS
from crypto_trader.market_data.pending_candles import COMMIT_INTERVAL_S
from crypto_trader.market_data.series import SeriesId, series_id
from crypto_trader.market_data.timeframes import HOUR_MS
from tests.market_data.conftest import BTC_USDT_1H, START_MS, assert_same_candles
from tests.market_data.fake_ohlcv_source import (
    FROM_SINCE,
    WINDOW,
    Failure,
    FakeExchange,
    hourly,
)

SYMBOL = "BTC/USDT"


def at(hours: float) -> int:
    """The time `hours` after START_MS, in epoch milliseconds."""
    return START_MS + round(hours * HOUR_MS)


def exchange(history: Candles, now_hours: float, **options: object) -> FakeExchange:
    return FakeExchange({SYMBOL: history}, at(now_hours), **options)


def between(candles: Candles, start_ms: int, end_ms: int) -> Candles:
    times = candles.timestamp_ms
    return candles.take(np.flatnonzero((times >= start_ms) & (times < end_ms)))


def without(candles: Candles, first: int, last: int) -> Candles:
    """`candles` with the ones at indexes first..last (inclusive) taken out."""
    keep = np.r_[0:first, last + 1 : len(candles)]
    return candles.take(keep)


@pytest.mark.parametrize("answers", [FROM_SINCE, WINDOW])
@pytest.mark.parametrize("page", [1, 7, 25, 59, 60, 61, 1000])
def test_n_candles_take_ceil_n_over_page_requests(
    store: CandleStore, series: SeriesId, page: int, answers: str
) -> None:
    history = hourly(61)  # the 61st is still open at now
    source = exchange(history, 60.5, page=page, answers=answers)

    result = download_series(store, source, series, since_ms=START_MS)

    assert result.requests == source.count() == math.ceil(60 / page)
    pages = range(0, 60, page)
    assert source.sinces() == [at(hours) for hours in pages]
    assert [r.limit for r in source.requests] == [min(page, 60 - h) for h in pages]
    assert result.added == 60
    assert_same_candles(store.load(series), history.take(slice(0, 60)))


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    count=st.integers(1, 40),
    page=st.integers(1, 12),
    since=st.integers(-20, 45),
    length=st.integers(1, 70),
    minutes=st.sampled_from([0, 1, 30, 59]),
    answers=st.sampled_from([FROM_SINCE, WINDOW]),
    newest_first=st.booleans(),
    overlap=st.booleans(),
)
def test_any_span_stores_exactly_its_closed_candles_in_the_fewest_requests(
    count: int,
    page: int,
    since: int,
    length: int,
    minutes: int,
    answers: str,
    newest_first: bool,
    overlap: bool,
) -> None:
    history = hourly(count + 1)  # the last one is still open
    source = exchange(
        history,
        count + 0.5,
        page=page,
        answers=answers,
        newest_first=newest_first,
        overlap=overlap,
    )
    since_ms = at(since) + minutes * 60_000
    until_ms = since_ms + length * HOUR_MS
    with tempfile.TemporaryDirectory() as folder:
        store = CandleStore(Path(folder))

        result = download_series(store, source, BTC_USDT_1H, since_ms, until_ms)

        first_ms = at(since + (minutes > 0))
        end_ms = min(until_ms, at(count))
        slots = max(0, math.ceil((end_ms - first_ms) / HOUR_MS))
        expected = between(history, first_ms, end_ms)
        if answers == WINDOW:
            assert result.requests == math.ceil(slots / page)
        elif len(expected):
            assert result.requests == math.ceil(len(expected) / page)
        else:  # one request learns that the span is empty
            assert result.requests == min(slots, 1)
        assert result.added == len(expected)
        if len(expected):
            assert_same_candles(store.load(BTC_USDT_1H), expected)
        else:
            assert not store.exists(BTC_USDT_1H)


def test_until_in_the_middle_of_a_page(store: CandleStore, series: SeriesId) -> None:
    history = hourly(100)
    source = exchange(history, 100, page=30)

    download_series(store, source, series, since_ms=START_MS, until_ms=at(45.5))

    assert [(r.since_ms, r.limit) for r in source.requests] == [
        (at(0), 30),
        (at(30), 16),
    ]
    assert_same_candles(store.load(series), history.take(slice(0, 46)))


def test_since_between_open_times_starts_at_the_next_candle(
    store: CandleStore, series: SeriesId
) -> None:
    source = exchange(hourly(20), 20, page=100)

    download_series(store, source, series, since_ms=at(10.5))

    assert source.sinces() == [at(11)]
    assert store.summary(series).first_ms == at(11)
    assert store.summary(series).candles == 9


@pytest.mark.parametrize(
    ("answers", "sinces"),
    [
        # Binance answers from `since` onward: the first page starts at the
        # market's first candle.
        (FROM_SINCE, [at(-1000)]),
        # Coinbase answers for the window only: ten empty windows are skipped.
        (WINDOW, [at(h) for h in range(-1000, 20, 100)]),
    ],
)
def test_since_before_the_exchanges_first_candle(
    store: CandleStore, series: SeriesId, answers: str, sinces: list[int]
) -> None:
    source = exchange(hourly(20), 20, page=100, answers=answers)

    result = download_series(store, source, series, since_ms=at(-1000))

    assert source.sinces() == sinces
    assert result.added == 20
    assert_same_candles(store.load(series), hourly(20))


@pytest.mark.parametrize("until_hours", [None, 50])
def test_the_still_open_candle_is_never_stored(
    store: CandleStore, series: SeriesId, until_hours: int | None
) -> None:
    history = hourly(11)
    source = exchange(history, 10 + 59 / 60)
    until_ms = None if until_hours is None else at(until_hours)

    download_series(store, source, series, START_MS, until_ms)

    assert store.summary(series).last_ms == at(9)
    source.now = at(11)  # the candle at 10:00 has closed: a candle closes at now
    again = download_series(store, source, series)
    assert again.added == 1
    assert source.sinces()[-1] == at(10)
    assert_same_candles(store.load(series), history)


def test_resume_continues_after_the_last_stored_candle(
    store: CandleStore, series: SeriesId
) -> None:
    history = hourly(100)
    store.merge(series, history.take(slice(0, 40)))
    source = exchange(history, 100, page=25)

    result = download_series(store, source, series, since_ms=START_MS)

    assert source.sinces() == [at(40), at(65), at(90)]
    assert (result.requests, result.added) == (3, 60)
    assert_same_candles(store.load(series), history)


def test_an_up_to_date_series_sends_no_request(
    store: CandleStore, series: SeriesId
) -> None:
    history = hourly(30)
    store.merge(series, history)
    source = exchange(history, 30.9)

    result = download_series(store, source, series)

    assert (result.requests, result.added) == (0, 0)
    assert result.summary == store.summary(series)


def test_a_new_series_without_since_starts_thirty_days_back(
    store: CandleStore, series: SeriesId
) -> None:
    source = exchange(hourly(2000), 1000.25, page=1000)

    download_series(store, source, series)

    assert DEFAULT_HISTORY_MS == 30 * 24 * HOUR_MS
    assert source.sinces() == [at(1001 - 720)]  # rounded up to a whole hour
    assert store.summary(series).candles == 720 - 1  # the open one is left out


def test_a_start_in_the_future_sends_no_request(
    store: CandleStore, series: SeriesId
) -> None:
    source = exchange(hourly(10), 10)

    result = download_series(store, source, series, since_ms=at(10))

    assert (result.requests, result.summary) == (0, None)


@pytest.mark.parametrize(
    ("answers", "sinces"),
    [
        # After 30..54 are missing, the page asked at 30 brings 55..64.
        (FROM_SINCE, [at(h) for h in (0, 10, 20, 30, 65, 75, 85, 95)]),
        # The windows at 30 and 40 come back empty and are skipped.
        (WINDOW, [at(h) for h in range(0, 100, 10)]),
    ],
)
def test_a_hole_in_the_exchanges_history(
    store: CandleStore, series: SeriesId, answers: str, sinces: list[int]
) -> None:
    history = without(hourly(100), 30, 54)
    source = exchange(history, 100, page=10, answers=answers)

    download_series(store, source, series, since_ms=START_MS)

    assert source.sinces() == sinces
    assert_same_candles(store.load(series), history)
    gaps = store.summary(series).gaps
    assert [(g.start_ms, g.end_ms, g.missing) for g in gaps] == [(at(30), at(54), 25)]


def test_history_that_ends_early_costs_one_request_per_window_to_now(
    store: CandleStore, series: SeriesId
) -> None:
    # A market that stopped trading: nothing after 59, now at 100.
    history = hourly(60)
    source = exchange(history, 100, page=10)

    download_series(store, source, series, since_ms=START_MS)

    assert source.sinces() == [at(h) for h in range(0, 100, 10)]
    assert_same_candles(store.load(series), history)


def test_since_before_the_first_stored_candle_fetches_backward(
    store: CandleStore, series: SeriesId
) -> None:
    history = hourly(100)
    store.merge(series, history.take(slice(40, 60)))
    source = exchange(history, 100, page=15)

    result = download_series(store, source, series, since_ms=START_MS)

    assert [(r.since_ms, r.limit) for r in source.requests] == [
        (at(60), 15),
        (at(75), 15),
        (at(90), 10),
        (at(25), 15),
        (at(10), 15),
        (at(0), 10),
    ]
    assert result.added == 80
    assert_same_candles(store.load(series), history)


def test_an_interrupted_backward_fetch_resumes_without_a_hole(
    store: CandleStore, series: SeriesId
) -> None:
    history = hourly(100)
    store.merge(series, history.take(slice(80, 100)))
    broken = exchange(history, 100, page=10)
    broken.failures = {SYMBOL: Failure(3, ExchangeError("connection reset"))}

    with pytest.raises(ExchangeError, match="connection reset"):
        download_series(store, broken, series, since_ms=START_MS)

    partial = store.summary(series)
    assert (partial.first_ms, partial.gaps) == (at(50), ())
    source = exchange(history, 100, page=10)
    download_series(store, source, series, since_ms=START_MS)
    assert source.sinces() == [at(h) for h in (40, 30, 20, 10, 0)]
    assert_same_candles(store.load(series), history)


def test_an_invalid_candle_stops_the_download_after_the_pages_before_it(
    store: CandleStore, series: SeriesId
) -> None:
    history = hourly(50)
    columns = [column.copy() for column in history.columns()]
    columns[2][35] = columns[3][35] / 2  # high below low at 2024-01-02T11:00
    source = exchange(candles_from_arrays(*columns), 50, page=10)

    with pytest.raises(ExchangeError) as raised:
        download_series(store, source, series, since_ms=START_MS)

    assert str(raised.value).startswith(
        "binance BTC/USDT 1h: the exchange sent an invalid candle at "
        "2024-01-02T11:00:00Z (high "
    )
    # The third page was held for a batch, and committed when the fourth failed.
    assert_same_candles(store.load(series), history.take(slice(0, 30)))


class RowsExchange(FakeExchange):
    """Answers every request with the same rows."""

    rows: list[list[object]] = []  # noqa: RUF012 - set per test

    def fetch_ohlcv(self, *args: object, **kwargs: object) -> list[list[float]]:
        super().fetch_ohlcv(*args, **kwargs)
        return self.rows


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[at(0), 1, 2, 0.5]], "not [timestamp_ms, open, high, low, close, volume]"),
        ([[at(0), "x", 2, 0.5, 1, 1]], "rows that are not numbers"),
        ([[at(0), 1, 2, 0.5, 1, 1], [at(1), 1, 2]], "not [timestamp_ms, open,"),
        ([[at(0) + 0.5, 1, 2, 0.5, 1, 1]], "not whole milliseconds"),
        ([[None, 1, 2, 0.5, 1, 1]], "not whole milliseconds"),
        ([[at(0), 1, 2, 0.5, 1, None]], "volume is nan, not a finite number"),
    ],
)
def test_malformed_rows_are_an_exchange_error(
    store: CandleStore, series: SeriesId, rows: list[list[object]], message: str
) -> None:
    source = RowsExchange({SYMBOL: hourly(5)}, at(5))
    source.rows = rows

    with pytest.raises(ExchangeError, match=message.replace("[", r"\[")):
        download_series(store, source, series, since_ms=START_MS)

    assert not store.exists(series)


def test_pages_of_older_candles_only_count_as_empty_windows(
    store: CandleStore, series: SeriesId
) -> None:
    source = RowsExchange({SYMBOL: hourly(50)}, at(50), page=10)
    source.rows = [[at(0), 1, 2, 0.5, 1, 1]]  # whatever was asked

    result = download_series(store, source, series, since_ms=at(5))

    assert source.sinces() == [at(h) for h in (5, 15, 25, 35, 45)]
    assert (result.added, result.summary) == (0, None)


def test_an_unknown_symbol_is_the_sources_input_error(store: CandleStore) -> None:
    source = FakeExchange({}, at(10))
    doge = series_id("binance", "DOGE/XYZ", "1h")

    with pytest.raises(InputError, match="binance has no market DOGE/XYZ"):
        download_series(store, source, doge, since_ms=START_MS)


def test_a_source_of_another_exchange_is_refused(
    store: CandleStore, series: SeriesId
) -> None:
    source = exchange(hourly(5), 5, exchange_id="kraken")

    with pytest.raises(ValueError, match="cannot come from kraken"):
        download_series(store, source, series)


def test_progress_reaches_the_planned_candles(
    store: CandleStore, series: SeriesId
) -> None:
    reports: list[tuple[int, int]] = []
    source = exchange(hourly(100), 100, page=30)

    download_series(
        store,
        source,
        series,
        since_ms=START_MS,
        progress=lambda s, covered, planned: reports.append((covered, planned)),
    )

    assert reports == [(0, 100), (30, 100), (60, 100), (90, 100), (100, 100)]


def test_stop_ends_the_download_between_pages(
    store: CandleStore, series: SeriesId
) -> None:
    stop = threading.Event()
    source = exchange(hourly(100), 100, page=30)

    result = download_series(
        store,
        source,
        series,
        since_ms=START_MS,
        progress=lambda *_: stop.set() if source.count() == 2 else None,
        stop=stop,
    )

    assert result.requests == 2
    assert store.summary(series).candles == 60


class CountingStore(CandleStore):
    """A store that notes how many candles each merge brings."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.merges: list[int] = []

    def merge(self, series: SeriesId, candles: Candles) -> MergeResult:
        self.merges.append(len(candles))
        return super().merge(series, candles)


class SlowExchange(FakeExchange):
    """Each request takes three seconds on `ticks`, a clock of its own."""

    ticks: float = 0.0

    def fetch_ohlcv(self, *args: object, **kwargs: object) -> list[list[float]]:
        self.ticks += 3.0
        return super().fetch_ohlcv(*args, **kwargs)


def test_pages_are_committed_in_batches_that_double_the_series(
    tmp_path: Path, series: SeriesId
) -> None:
    store = CountingStore(tmp_path / "candles")
    source = exchange(hourly(100), 100, page=10)

    download_series(store, source, series, since_ms=START_MS)

    assert store.merges == [10, 10, 20, 40, 20]
    assert_same_candles(store.load(series), hourly(100))


def test_a_slow_download_commits_at_least_every_five_seconds(
    tmp_path: Path, series: SeriesId
) -> None:
    store = CountingStore(tmp_path / "candles")
    source = SlowExchange({SYMBOL: hourly(100)}, at(100), page=10)

    download_series(
        store, source, series, since_ms=START_MS, clock=lambda: source.ticks
    )

    assert COMMIT_INTERVAL_S == 5.0
    # Committed by size after pages 1, 2 and 4; by time after pages 6, 8 and 10.
    assert store.merges == [10, 10, 20, 20, 20, 20]
