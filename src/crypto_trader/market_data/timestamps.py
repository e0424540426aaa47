"""Open times as UTC epoch milliseconds, and their ISO 8601 form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crypto_trader.clock import format_utc, parse_utc

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def format_timestamp_ms(timestamp_ms: int) -> str:
    """UTC epoch milliseconds as ISO 8601 UTC, to the second (`…T12:00:00Z`)."""
    return format_utc(datetime.fromtimestamp(timestamp_ms / 1000, UTC))


def parse_timestamp_ms(text: str, option: str) -> int:
    """An ISO 8601 UTC date or time from the command line, in epoch milliseconds."""
    return (parse_utc(text, option) - _EPOCH) // _ONE_MS
