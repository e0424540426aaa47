"""Time as a value: an injectable clock and ISO 8601 UTC formatting."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from crypto_trader.errors import InputError

Clock = Callable[[], datetime]

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def system_clock() -> datetime:
    """Return the current time in UTC; the one place that reads the wall clock."""
    return datetime.now(UTC)


def format_utc(moment: datetime) -> str:
    """Format a time as ISO 8601 in UTC with a `Z`, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str, option: str) -> datetime:
    """Parse `2024-01-31` or `2024-01-31T12:00:00Z` as UTC; `option` names the input."""
    value = text.strip()
    hint = f"{option}: expected an ISO 8601 UTC date such as 2024-01-31 or "
    hint += "2024-01-31T12:00:00Z"
    if _DATE_ONLY.match(value):
        value += "T00:00:00Z"
    if not value.endswith("Z") and not value.endswith("+00:00"):
        raise InputError(f"{hint}, got {text!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{hint}, got {text!r}") from None
    return moment.astimezone(UTC)
