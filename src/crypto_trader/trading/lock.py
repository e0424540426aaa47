"""One runner per home: an exclusive lock held while a session runs.

The lock is an `flock` on a file in the home, so the kernel releases it when the
runner dies, SIGKILL included: a crashed runner never blocks the next start. The
file names the holder (process id and session), for the refusal message.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from crypto_trader.errors import CryptoTraderError
from crypto_trader.secure_fs import touch_private


class RunnerBusyError(CryptoTraderError):
    """Raised when another runner holds the home's lock."""


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds the lock."""

    pid: int
    session_id: int
    description: str


class RunnerLock:
    """The home's runner lock; `acquire` or refuse, naming the running session."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, session_id: int, description: str) -> None:
        """Take the lock for `session_id`; RunnerBusyError if a runner holds it."""
        touch_private(self.path)
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunnerBusyError(busy_text(self.holder())) from None
        self._fd = fd
        self.acquire_note(session_id, description)

    def acquire_note(self, session_id: int, description: str) -> None:
        """Rewrite who holds the lock, once the session is known."""
        if self._fd is None:
            raise RuntimeError("the runner lock is not held")
        record = {"pid": os.getpid(), "session": session_id, "what": description}
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, json.dumps(record).encode(), 0)

    def release(self) -> None:
        """Let the lock go (the kernel does it too when the process dies)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def is_held(self) -> bool:
        """Whether some runner holds the lock now."""
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def holder(self) -> Holder | None:
        """The holder as it wrote itself down, if readable."""
        try:
            data = json.loads(self.path.read_text() or "{}")
            return Holder(int(data["pid"]), int(data["session"]), str(data["what"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def busy_text(holder: Holder | None) -> str:
    """The refusal for a second start."""
    if holder is None:
        who = "another trading session"
    else:
        who = f"session {holder.session_id} ({holder.description}, pid {holder.pid})"
    return (
        f"{who} is already running in this home; stop it with "
        "`crypto-trader trade stop` first"
    )
