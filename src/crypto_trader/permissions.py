"""The permission check every exchange request passes, with the key's current level."""

from __future__ import annotations

import shlex
from enum import StrEnum

from crypto_trader.audit.audit_log import AuditLog
from crypto_trader.audit.events import EventType
from crypto_trader.errors import PermissionDeniedError
from crypto_trader.vault.key_record import Permission
from crypto_trader.vault.key_vault import KeyVault


class Operation(StrEnum):
    """How a request touches the account: reading it, or trading with it."""

    READ = "read"
    TRADE = "trade"


ALLOWED: dict[Permission, frozenset[Operation]] = {
    Permission.READ_ONLY: frozenset({Operation.READ}),
    Permission.TRADING: frozenset({Operation.READ, Operation.TRADE}),
}


def allows(level: str, operation: Operation) -> bool:
    """Whether a stored level allows the operation; an unknown level allows nothing."""
    try:
        return operation in ALLOWED[Permission(level)]
    except ValueError:
        return False


class PermissionGate:
    """Reads a key's level on every call and refuses what it does not allow."""

    def __init__(self, vault: KeyVault, audit: AuditLog) -> None:
        self._vault = vault
        self._audit = audit

    def check(self, label: str, operation: Operation, request: str) -> None:
        """Allow the request or record PERMISSION_DENIED and raise."""
        record = self._vault.authentic(label)
        if allows(record.permission, operation):
            return
        self._audit.record(
            EventType.PERMISSION_DENIED,
            {
                "label": record.label,
                "exchange": record.exchange,
                "permission": record.permission,
                "operation": operation.value,
                "request": request,
            },
        )
        raise PermissionDeniedError(_refusal(record.label, record.permission, request))


def _refusal(label: str, level: str, request: str) -> str:
    """One line saying why, and the command that changes it (pasteable as is)."""
    quoted = shlex.quote(label)
    if level not in set(Permission):
        return (
            f"key {label!r} has an unknown permission level {level[:20]!r}, which "
            f"allows nothing; set one with: crypto-trader keys set-permission "
            f"{quoted} read-only (or trading)"
        )
    return (
        f"key {label!r} is {level}: {request} needs a trading key; if intended, "
        f"run: crypto-trader keys set-permission {quoted} trading"
    )
