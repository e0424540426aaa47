"""Types that carry secrets and never show them."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

MASK = "********"


class SecretStr:
    """A string whose `repr` and `str` are masked; `.reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        redactions.register(value)

    def reveal(self) -> str:
        """Return the secret itself; only code that must hand it on calls this."""
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"SecretStr('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretStr):
            return NotImplemented
        return self._value == other._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("secrets are not pickled")


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """An exchange API key: its public id, secret and optional passphrase."""

    api_key: SecretStr
    secret: SecretStr
    passphrase: SecretStr | None = field(default=None)

    def hint(self) -> str:
        """Show at most the first and last four characters of the API key."""
        return api_key_hint(self.api_key.reveal())


def api_key_hint(api_key: str) -> str:
    """A recognisable hint that never shows more than four characters at each end."""
    if len(api_key) >= 16:
        return f"{api_key[:4]}…{api_key[-4:]}"
    if len(api_key) >= 10:
        return f"…{api_key[-2:]}"
    return "…"


class RedactionRegistry:
    """The secret values seen by this process, so logs can blank any that slip in."""

    MIN_LENGTH = 6

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def register(self, value: str) -> None:
        """Remember a secret value (and each of its lines) for redaction."""
        parts = {value, *value.splitlines()}
        with self._lock:
            self._values.update(p for p in parts if len(p.strip()) >= self.MIN_LENGTH)

    def redact(self, text: str) -> str:
        """Replace every known secret value in `text` with the mask."""
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        return text


redactions = RedactionRegistry()
