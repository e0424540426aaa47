"""Failures a stand-in injects on demand, each answered in its exchange's own format.

A failure replaces the normal answer to a matching request. `Stall` and `Disconnect`
can let the exchange act on the request first (`process=True`): that is the case of
an order the exchange accepted whose answer never reached the client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.support.exchange_standins.messages import Reply

if TYPE_CHECKING:
    from tests.support.exchange_standins.server import Standin

Handle = Callable[[], Reply]


class Failure:
    """Base of the injectable failures; `answer` returns None to drop the connection."""

    name = "failure"

    def answer(self, standin: Standin, handle: Handle) -> Reply | None:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class RateLimited(Failure):
    """HTTP 429 with a Retry-After header (seconds) and the exchange's error body."""

    retry_after_s: int = 1
    name = "rate_limited"

    def answer(self, standin: Standin, handle: Handle) -> Reply | None:
        return standin.rate_limited_reply(self.retry_after_s)


@dataclass(frozen=True, slots=True)
class ServerError(Failure):
    """An HTTP 5xx with the exchange's error body."""

    status: int = 503
    name = "server_error"

    def answer(self, standin: Standin, handle: Handle) -> Reply | None:
        return standin.server_error_reply(self.status)


@dataclass(frozen=True, slots=True)
class Stall(Failure):
    """Hold the answer for `seconds` (longer than the client's timeout).

    With `process=True` the exchange acts on the request first (an order is placed)
    and only the answer is late. A reset or stop of the stand-in ends the stall.
    """

    seconds: float = 5.0
    process: bool = False
    name = "stall"

    def answer(self, standin: Standin, handle: Handle) -> Reply | None:
        reply = handle() if self.process else None
        standin.wait_released(self.seconds)
        return reply if reply is not None else standin.server_error_reply(504)


@dataclass(frozen=True, slots=True)
class Disconnect(Failure):
    """Close the connection without an answer (optionally after acting on it)."""

    process: bool = False
    name = "disconnect"

    def answer(self, standin: Standin, handle: Handle) -> Reply | None:
        if self.process:
            handle()
        return None


@dataclass(frozen=True, slots=True)
class MalformedJson(Failure):
    """HTTP 200 with a JSON content type and a truncated body."""

    name = "malformed_json"

    def answer(self, standin: Standin, handle: Handle) -> Reply | None:
        return Reply(200, b'{"result": [{"id": "trunc', "application/json")


@dataclass(frozen=True, slots=True)
class PermissionDenied(Failure):
    """The exchange's answer to a key that lacks the right for this request."""

    name = "permission_denied"

    def answer(self, standin: Standin, handle: Handle) -> Reply | None:
        return standin.permission_denied_reply()


@dataclass(frozen=True, slots=True)
class InvalidKey(Failure):
    """The exchange's answer to an unknown or revoked API key."""

    name = "invalid_key"

    def answer(self, standin: Standin, handle: Handle) -> Reply | None:
        return standin.invalid_key_reply()
