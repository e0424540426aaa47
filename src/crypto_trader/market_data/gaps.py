"""Holes in a series: runs of missing candles between two stored ones.

A gap is reported by the open times of its first and its last missing candle,
both inclusive: stored candles at 10:00 and 13:00 on 1h leave the gap
`{"start": "…T11:00:00Z", "end": "…T12:00:00Z", "missing": 2}`. Only holes
between the first and the last stored candle count; candles before the first or
after the last are not missing, just not collected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from crypto_trader.market_data.timestamps import format_timestamp_ms


@dataclass(frozen=True, slots=True)
class Gap:
    """Missing candles from `start_ms` to `end_ms` (open times, both inclusive)."""

    start_ms: int
    end_ms: int
    missing: int

    def to_json(self) -> dict[str, str | int]:
        """`{"start", "end", "missing"}` with ISO 8601 UTC times."""
        return {
            "start": format_timestamp_ms(self.start_ms),
            "end": format_timestamp_ms(self.end_ms),
            "missing": self.missing,
        }


def find_gaps(timestamps_ms: npt.NDArray[np.int64], step_ms: int) -> list[Gap]:
    """The gaps in sorted, unique open times that are `step_ms` apart when whole."""
    if len(timestamps_ms) < 2:
        return []
    steps = np.diff(timestamps_ms)
    holes = np.flatnonzero(steps > step_ms)
    gaps = []
    for index in holes.tolist():
        before = int(timestamps_ms[index])
        after = int(timestamps_ms[index + 1])
        missing = (after - before) // step_ms - 1
        gaps.append(Gap(before + step_ms, after - step_ms, missing))
    return gaps
