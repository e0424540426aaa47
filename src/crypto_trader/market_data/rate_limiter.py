"""Spacing requests to one exchange, shared by the threads that download from it."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

MonotonicClock = Callable[[], float]
Sleep = Callable[[float], None]


class RateLimiter:
    """Grants requests at least `interval_s` seconds apart, in the order asked.

    Each caller reserves the next free slot under a lock and sleeps outside it,
    so several threads wait for their slots at once and a slow request never
    holds up the others. `clock` is monotonic seconds; `sleep` waits seconds.
    """

    def __init__(self, interval_s: float, clock: MonotonicClock, sleep: Sleep) -> None:
        if not interval_s >= 0:
            raise ValueError(f"interval_s must be zero or more, got {interval_s!r}")
        self.interval_s = interval_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = -math.inf

    def wait(self) -> None:
        """Block until this caller may send its request."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval_s
        if slot > now:
            self._sleep(slot - now)
