"""Which spans a download asks for, from what is stored, since, until and now."""

from __future__ import annotations

import pytest

from crypto_trader.market_data.download_plan import (
    DEFAULT_HISTORY_MS,
    DownloadPlan,
    Span,
    closed_end_ms,
    plan_download,
)
from crypto_trader.market_data.timeframes import DAY_MS, HOUR_MS, Timeframe

H1 = Timeframe.H1
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z, a Monday


def hours(count: float) -> int:
    return T0 + round(count * HOUR_MS)


def test_a_candle_is_closed_once_now_reaches_its_end() -> None:
    end = closed_end_ms(H1, hours(10))
    assert hours(9) < end <= hours(9) + 1  # 09:00 closed at 10:00 sharp
    assert closed_end_ms(H1, hours(10) - 1) == hours(9)  # one ms earlier: open


@pytest.mark.parametrize(
    ("stored", "since", "until", "plan"),
    [
        # Nothing stored: [since, until), since rounded up to the grid.
        (None, hours(0.5), hours(5), DownloadPlan(Span(hours(1), hours(5)), None)),
        # Stored: continue after the last candle, whatever since says.
        (
            (hours(0), hours(3)),
            hours(1),
            None,
            DownloadPlan(Span(hours(4), hours(19) + 1), None),
        ),
        # Since before the first stored candle: also the span below it.
        (
            (hours(5), hours(8)),
            hours(2),
            hours(12),
            DownloadPlan(Span(hours(9), hours(12)), Span(hours(2), hours(5))),
        ),
        # Until before the first stored candle: only [since, until).
        (
            (hours(5), hours(8)),
            hours(1),
            hours(3),
            DownloadPlan(None, Span(hours(1), hours(3))),
        ),
        # Since after the last stored candle: a later span, leaving a gap.
        (
            (hours(0), hours(3)),
            hours(10),
            None,
            DownloadPlan(Span(hours(10), hours(19) + 1), None),
        ),
        # Everything asked for is stored already.
        ((hours(0), hours(9)), hours(2), hours(6), DownloadPlan(None, None)),
    ],
)
def test_plans(
    stored: tuple[int, int] | None, since: int, until: int | None, plan: DownloadPlan
) -> None:
    assert plan_download(H1, stored, since, until, now_ms=hours(20)) == plan


def test_until_after_now_stops_at_the_newest_closed_candle() -> None:
    plan = plan_download(H1, None, hours(0), hours(100), now_ms=hours(20.5))
    assert plan.later == Span(hours(0), hours(19.5) + 1)
    assert plan.slots(H1) == 20


def test_without_since_a_new_series_starts_thirty_days_back() -> None:
    now = hours(24 * 40 + 0.25)
    plan = plan_download(H1, None, None, None, now_ms=now)
    assert plan.later is not None
    assert plan.later.start_ms == hours(24 * 10 + 1)
    assert now - DEFAULT_HISTORY_MS == hours(24 * 10 + 0.25)


def test_weekly_since_is_left_for_the_exchange_to_answer_from() -> None:
    # The 1w grid depends on the exchange, so since is not rounded.
    plan = plan_download(Timeframe.W1, None, T0 + DAY_MS, None, now_ms=T0 + 60 * DAY_MS)
    assert plan.later is not None
    assert plan.later.start_ms == T0 + DAY_MS


def test_span_slots_round_up() -> None:
    assert Span(hours(0), hours(2)).slots(H1) == 2
    assert Span(hours(0), hours(2) + 1).slots(H1) == 3
    assert Span(hours(2), hours(0)).slots(H1) == 0
