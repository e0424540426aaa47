"""Which open times a download asks for, given what is stored and what is closed.

A download extends a stored series at its ends only, so that what is stored
stays one run from its first candle to its last (holes are the exchange's own):
the later span, from the last stored candle up to the newest closed candle or
`until`, is walked forward; the earlier span, from `since` up to the first
stored candle, is walked backward. Either way each committed page moves an end
of the series, so a run that is killed resumes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto_trader.market_data.timeframes import DAY_MS, Timeframe

# Without --since and with nothing stored, a download starts this long before
# now: a month of candles, enough for a first look at any timeframe up to 1d.
DEFAULT_HISTORY_MS = 30 * DAY_MS


@dataclass(frozen=True, slots=True)
class Span:
    """Open times from `start_ms` (inclusive) to `end_ms` (exclusive)."""

    start_ms: int
    end_ms: int

    def slots(self, timeframe: Timeframe) -> int:
        """How many candles of `timeframe` can open in the span."""
        return max(0, -(-(self.end_ms - self.start_ms) // timeframe.ms))


@dataclass(frozen=True, slots=True)
class DownloadPlan:
    """The spans to fetch: `later` walked forward, `earlier` walked backward."""

    later: Span | None
    earlier: Span | None

    def slots(self, timeframe: Timeframe) -> int:
        """How many candles the plan can bring at most (for progress)."""
        spans = [span for span in (self.later, self.earlier) if span is not None]
        return sum(span.slots(timeframe) for span in spans)


def closed_end_ms(timeframe: Timeframe, now_ms: int) -> int:
    """The first open time whose candle is still open at `now_ms` or later.

    A candle is closed when `open_time + timeframe <= now_ms`: the ones that
    open before the returned time.
    """
    return now_ms - timeframe.ms + 1


def plan_download(
    timeframe: Timeframe,
    stored: tuple[int, int] | None,
    since_ms: int | None,
    until_ms: int | None,
    now_ms: int,
) -> DownloadPlan:
    """The spans to fetch for a series.

    `stored` is the first and last stored open time, or None. `since_ms` is
    inclusive and `until_ms` exclusive; without `since_ms` a stored series
    continues from its last candle and a new one starts DEFAULT_HISTORY_MS
    before `now_ms`. Still-open candles are never in a span.
    """
    end = closed_end_ms(timeframe, now_ms)
    if until_ms is not None:
        end = min(end, until_ms)
    if stored is None:
        start = now_ms - DEFAULT_HISTORY_MS if since_ms is None else since_ms
        return DownloadPlan(_span(_on_grid(timeframe, start), end), None)
    first_ms, last_ms = stored
    later_start = last_ms + timeframe.ms
    if since_ms is None:
        return DownloadPlan(_span(later_start, end), None)
    since = _on_grid(timeframe, since_ms)
    return DownloadPlan(
        _span(max(since, later_start), end), _span(since, min(end, first_ms))
    )


def _span(start_ms: int, end_ms: int) -> Span | None:
    return Span(start_ms, end_ms) if start_ms < end_ms else None


def _on_grid(timeframe: Timeframe, timestamp_ms: int) -> int:
    """The first open time at or after `timestamp_ms` on an epoch grid.

    The 3d and 1w grids depend on the exchange (see timeframes), so there the
    time is left as it is and the exchange answers from it.
    """
    if not timeframe.epoch_grid:
        return timestamp_ms
    return -(-timestamp_ms // timeframe.ms) * timeframe.ms
