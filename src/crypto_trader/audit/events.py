"""Audit event types and the record shape of the specification."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from crypto_trader.canonical import canonical_json
from crypto_trader.vault.secrets import redactions

GENESIS_HASH = "0" * 64
MAX_VALUE_CHARS = 1024


class EventType(StrEnum):
    """The kinds of security event the audit log records."""

    API_KEY_CHANGED = "API_KEY_CHANGED"
    API_KEY_CHECKED = "API_KEY_CHECKED"
    PERMISSION_CHANGED = "PERMISSION_CHANGED"
    MASTER_KEY_CHANGED = "MASTER_KEY_CHANGED"
    TRADING_OPERATION = "TRADING_OPERATION"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    CONFIGURATION_CHANGED = "CONFIGURATION_CHANGED"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One record: the specification's four fields plus its place in the chain."""

    seq: int
    timestamp: str
    event_type: str
    user_id: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def to_json_object(self) -> dict[str, Any]:
        """The specification's shape, with the integrity fields beside it."""
        return {
            "timestamp": self.timestamp,
            "event_type": self.event_type,
            "user_id": self.user_id,
            "details": self.details,
            "seq": self.seq,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def chain_hash(
    seq: int, timestamp: str, event_type: str, user_id: str, details: str, prev: str
) -> str:
    """The hash that links a record to the one before it."""
    body = canonical_json([seq, timestamp, event_type, user_id, details, prev])
    return hashlib.sha256(body.encode("ascii")).hexdigest()


def clean_details(details: dict[str, Any]) -> dict[str, Any]:
    """Keep details to scalars and bounded strings with every known secret blanked.

    Secrets are blanked before truncation and JSON escaping, either of which could
    otherwise hide part of a secret from the redaction.
    """
    return {
        redactions.redact(str(key))[:64]: _clean_value(value)
        for key, value in details.items()
    }


def _clean_value(value: object) -> object:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return clean_details(value)
    if isinstance(value, list | tuple):
        return [_clean_value(item) for item in value[:64]]
    text = redactions.redact(str(value))
    if len(text) > MAX_VALUE_CHARS:
        return text[:MAX_VALUE_CHARS] + "…(truncated)"
    return text
