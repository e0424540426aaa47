"""Checking a key's real rights on its exchange against what it should have."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from crypto_trader.audit.events import EventType
from crypto_trader.clock import Clock, format_utc
from crypto_trader.errors import (
    ExchangeAuthenticationError,
    ExchangeNetworkError,
    ExchangeUnavailableError,
    RateLimitedError,
    SecurityRefusalError,
)
from crypto_trader.exchanges.door import ExchangeDoor
from crypto_trader.exchanges.key_rights import KeyRights, read_key_rights
from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import Permission

UNREACHABLE = (ExchangeNetworkError, ExchangeUnavailableError, RateLimitedError)


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """The outcome of one check: ok, warning, refused, pending or unsupported."""

    label: str
    exchange: str
    checked_at: str
    status: str
    rights: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """For JSON output, the audit log and the security report."""
        return asdict(self)


class KeyRightsRefusedError(SecurityRefusalError):
    """Raised when a key can withdraw or transfer and the user did not allow it."""


def check_key(
    installation: Installation,
    label: str,
    door: ExchangeDoor,
    clock: Clock,
    allow_withdrawal_rights: bool = False,
) -> KeyCheck:
    """Read the key's rights, judge them, store and audit the result."""
    record = installation.vault.authentic(label)
    now = format_utc(clock())

    def unjudged(status: str, warning: str) -> KeyCheck:
        check = KeyCheck(record.label, record.exchange, now, status, warnings=[warning])
        return _store(installation, record.id, check)

    try:
        rights = read_key_rights(door)
    except ExchangeAuthenticationError as exc:
        return unjudged("failed", f"the exchange refused the key: {exc}")
    except UNREACHABLE as exc:
        return unjudged("pending", f"the exchange could not be reached ({exc})")
    if rights is None:
        return unjudged(
            "unsupported", f"{record.exchange} does not report a key's rights"
        )
    check = judge(
        record.label,
        record.exchange,
        record.permission,
        rights,
        now,
        allow_withdrawal_rights,
    )
    _store(installation, record.id, check)
    if check.status == "refused":
        raise KeyRightsRefusedError(check.warnings[0])
    return check


def judge(
    label: str,
    exchange: str,
    permission: str,
    rights: KeyRights,
    now: str,
    allow_withdrawal_rights: bool,
) -> KeyCheck:
    """Turn rights into a status and warnings that say what to change."""
    warnings: list[str] = []
    status = "ok"
    if rights.moves_funds:
        message = (
            f"key {label!r} can withdraw or transfer funds on {exchange}; remove "
            "those rights on the exchange (or pass --allow-withdrawal-rights)"
        )
        if not allow_withdrawal_rights:
            return KeyCheck(
                label, exchange, now, "refused", rights.as_dict(), [message]
            )
        warnings.append(message)
    if permission == Permission.READ_ONLY and rights.can_trade:
        warnings.append(
            f"key {label!r} is stored read-only but can trade on {exchange}; "
            "remove its trading right on the exchange"
        )
    if rights.ip_restricted is False:
        warnings.append(
            f"key {label!r} has no IP whitelist; restrict it to your IP addresses on "
            f"{exchange}"
        )
    if warnings:
        status = "warning"
    return KeyCheck(label, exchange, now, status, rights.as_dict(), warnings)


def _store(installation: Installation, key_id: str, check: KeyCheck) -> KeyCheck:
    details = {
        "action": "checked",
        "label": check.label,
        "exchange": check.exchange,
        "status": check.status,
        "rights": check.rights,
    }
    with installation.audit.recording(EventType.API_KEY_CHECKED, details) as rec:
        rec.conn.execute(
            "INSERT INTO key_checks (key_id, checked_at, status, result) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (key_id) DO UPDATE SET "
            "checked_at = excluded.checked_at, status = excluded.status, "
            "result = excluded.result",
            (key_id, check.checked_at, check.status, json.dumps(check.as_dict())),
        )
    return check


def last_checks(installation: Installation) -> dict[str, dict[str, Any]]:
    """The last check of each key, by label."""
    rows = installation.db.connection.execute(
        "SELECT result FROM key_checks"
    ).fetchall()
    checks = [json.loads(row[0]) for row in rows]
    return {check["label"]: check for check in checks}
