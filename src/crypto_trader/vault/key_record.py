"""An API key record: metadata in clear, material encrypted, all bound by a MAC."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.fernet import InvalidToken

from crypto_trader.canonical import canonical_json
from crypto_trader.errors import IntegrityError
from crypto_trader.vault.master_key import MasterKey
from crypto_trader.vault.secrets import KeyMaterial, SecretStr

RECORD_PURPOSE = b"crypto-trader api-key record v1"
COLUMNS = (
    "id, label, label_key, exchange, permission, api_key_hint, ciphertext, "
    "created_at, updated_at, mac"
)


class Permission(StrEnum):
    """What a key may be used for."""

    READ_ONLY = "read-only"
    TRADING = "trading"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One stored API key; `ciphertext` holds the material under the master key."""

    id: str
    label: str
    label_key: str
    exchange: str
    permission: str
    api_key_hint: str
    ciphertext: str
    created_at: str
    updated_at: str
    mac: str

    def as_row(self) -> tuple[str, ...]:
        """The values in COLUMNS order."""
        return (
            self.id,
            self.label,
            self.label_key,
            self.exchange,
            self.permission,
            self.api_key_hint,
            self.ciphertext,
            self.created_at,
            self.updated_at,
            self.mac,
        )

    def mac_body(self) -> bytes:
        """Every field but the MAC, so editing any one of them is detected."""
        return canonical_json(list(self.as_row()[:-1])).encode("ascii")

    def is_authentic(self, key: MasterKey) -> bool:
        """Whether the MAC matches the record under `key`."""
        return hmac.compare_digest(key.mac(RECORD_PURPOSE, self.mac_body()), self.mac)

    def public_view(self) -> dict[str, Any]:
        """What `keys list` shows: never more than the hint of the API key."""
        return {
            "label": self.label,
            "exchange": self.exchange,
            "permission": self.permission,
            "api_key_hint": self.api_key_hint,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def seal(record_id: str, material: KeyMaterial, key: MasterKey) -> str:
    """Encrypt the material, bound to the record it belongs to."""
    payload = {
        "record_id": record_id,
        "api_key": material.api_key.reveal(),
        "secret": material.secret.reveal(),
        "passphrase": None
        if material.passphrase is None
        else material.passphrase.reveal(),
    }
    return key.fernet().encrypt(canonical_json(payload).encode("ascii")).decode("ascii")


def sign(record: KeyRecord, key: MasterKey) -> KeyRecord:
    """Return `record` with its MAC computed under `key`."""
    from dataclasses import replace

    return replace(record, mac=key.mac(RECORD_PURPOSE, record.mac_body()))


def unseal(record: KeyRecord, key: MasterKey) -> KeyMaterial:
    """Check and decrypt a record; any failure says only that the record failed."""
    failure = IntegrityError(
        f"stored key {record.label!r} failed verification and will not be used; "
        "run crypto-trader keys verify"
    )
    if not record.is_authentic(key):
        raise failure
    try:
        payload = json.loads(key.fernet().decrypt(record.ciphertext.encode("ascii")))
    except (InvalidToken, ValueError, UnicodeEncodeError):
        raise failure from None
    if not isinstance(payload, dict) or payload.get("record_id") != record.id:
        raise failure
    passphrase = payload.get("passphrase")
    return KeyMaterial(
        api_key=SecretStr(str(payload["api_key"])),
        secret=SecretStr(str(payload["secret"])),
        passphrase=None if passphrase is None else SecretStr(str(passphrase)),
    )
