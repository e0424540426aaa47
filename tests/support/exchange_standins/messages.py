"""The request a stand-in received and the reply it sends."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One HTTP request as the stand-in saw it (the log tests assert on)."""

    method: str
    host: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    answered_with: str | None = field(default=None, compare=False)

    def header(self, name: str) -> str | None:
        """The value of a header, matched case-insensitively, or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    @property
    def params(self) -> dict[str, str]:
        """Query parameters merged with a form-encoded body (the body wins)."""
        merged = dict(parse_qsl(self.query, keep_blank_values=True))
        content_type = self.header("Content-Type") or ""
        if self.body and "x-www-form-urlencoded" in content_type:
            merged.update(parse_qsl(self.body.decode(), keep_blank_values=True))
        return merged

    def json(self) -> Any:
        """The body parsed as JSON ({} when empty)."""
        return json.loads(self.body) if self.body else {}

    def carries(self, secret: str) -> bool:
        """Whether `secret` appears anywhere in this request (line, headers, body)."""
        texts = [self.path, self.query, self.body.decode(errors="replace")]
        texts += [f"{key}: {value}" for key, value in self.headers]
        return any(secret in text for text in texts)


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: status, body and extra headers."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(
        cls, status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()
    ) -> Reply:
        """A JSON answer with compact separators, as exchanges send."""
        encoded = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, encoded, "application/json", headers)


class ApiError(Exception):
    """Raised by a stand-in handler to answer with an exchange error."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply
