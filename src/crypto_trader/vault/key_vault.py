"""API keys at rest: add, update, re-permission, remove, verify and open them."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from crypto_trader.audit.audit_log import FINGERPRINT_META, AuditLog
from crypto_trader.audit.events import EventType
from crypto_trader.clock import Clock, format_utc
from crypto_trader.errors import InputError, IntegrityError, NotFoundError, VaultError
from crypto_trader.exchange_ids import check_exchange
from crypto_trader.vault.key_record import (
    COLUMNS,
    KeyRecord,
    Permission,
    seal,
    sign,
    unseal,
)
from crypto_trader.vault.master_key import MasterKey
from crypto_trader.vault.secrets import KeyMaterial
from crypto_trader.vault.validation import (
    check_material,
    label_key,
    normalize_label,
)

MasterKeySource = Callable[[], MasterKey]


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """A stored key that failed verification."""

    label: str
    problem: str


def parse_permission(value: str) -> Permission:
    """Read a permission level given by the user."""
    try:
        return Permission(value.strip().lower())
    except ValueError:
        raise InputError(
            f"unknown permission level {value[:40]!r}; use read-only or trading"
        ) from None


class KeyVault:
    """The encrypted API key records of one installation."""

    def __init__(self, audit: AuditLog, master_key: MasterKeySource, clock: Clock):
        self._audit = audit
        self._db = audit.db
        self._master_key = master_key
        self._clock = clock

    def add(
        self, label: str, exchange: str, permission: Permission, material: KeyMaterial
    ) -> KeyRecord:
        """Encrypt and store a new key; the label must be new."""
        name, venue = normalize_label(label), check_exchange(exchange)
        check_material(material)
        key = self._master_key()
        now = format_utc(self._clock())
        record_id = uuid.uuid4().hex
        record = sign(
            KeyRecord(
                record_id,
                name,
                label_key(name),
                venue,
                permission.value,
                material.hint(),
                seal(record_id, material, key),
                now,
                now,
                "",
            ),
            key,
        )
        details = {
            "action": "added",
            "label": name,
            "exchange": venue,
            "permission": permission.value,
        }
        with self._audit.recording(EventType.API_KEY_CHANGED, details) as rec:
            self._check_current(rec.conn, key)
            if self._find(rec.conn, name) is not None:
                raise InputError(
                    f"a key labelled {name!r} already exists (labels are compared "
                    "ignoring case and look-alike forms); choose another label"
                )
            rec.conn.execute(
                f"INSERT INTO api_keys ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",  # noqa: S608
                record.as_row(),
            )
        return record

    def update(self, label: str, material: KeyMaterial) -> KeyRecord:
        """Replace a key's material, keeping its label, exchange and permission."""
        check_material(material)
        key = self._master_key()
        details = {"action": "updated"}
        with self._audit.recording(EventType.API_KEY_CHANGED, details) as rec:
            record = self._get_authentic(rec.conn, label, key)
            updated = sign(
                replace(
                    record,
                    ciphertext=seal(record.id, material, key),
                    api_key_hint=material.hint(),
                    updated_at=format_utc(self._clock()),
                ),
                key,
            )
            self._replace(rec.conn, updated)
            rec.details |= {"label": record.label, "exchange": record.exchange}
        return updated

    def set_permission(self, label: str, level: Permission) -> tuple[str, str]:
        """Change a key's permission level; returns the old and the new level."""
        key = self._master_key()
        with self._audit.recording(EventType.PERMISSION_CHANGED) as rec:
            record = self._get_authentic(rec.conn, label, key)
            updated = sign(
                replace(
                    record, permission=level.value, updated_at=format_utc(self._clock())
                ),
                key,
            )
            self._replace(rec.conn, updated)
            rec.details |= {
                "label": record.label,
                "exchange": record.exchange,
                "old": record.permission,
                "new": level.value,
            }
        return record.permission, level.value

    def remove(self, label: str) -> None:
        """Delete a key record (its ciphertext is zeroed on disk by secure_delete)."""
        self.get(label)  # a missing label is refused before any key is made
        self._master_key()  # unlocked, the head anchors this removal's record
        with self._audit.recording(
            EventType.API_KEY_CHANGED, {"action": "removed"}
        ) as rec:
            record = self._get(rec.conn, label)
            rec.conn.execute("DELETE FROM api_keys WHERE id = ?", (record.id,))
            rec.details |= {"label": record.label, "exchange": record.exchange}

    def records(self) -> list[KeyRecord]:
        """Every record, by label; nothing is decrypted."""
        rows = self._db.connection.execute(
            f"SELECT {COLUMNS} FROM api_keys ORDER BY label_key"  # noqa: S608
        ).fetchall()
        return [KeyRecord(*row) for row in rows]

    def get(self, label: str) -> KeyRecord:
        """The record with this label, unverified."""
        return self._get(self._db.connection, label)

    def open(self, label: str) -> tuple[KeyRecord, KeyMaterial]:
        """The verified record and its decrypted material."""
        record = self.get(label)
        key = self._master_key()
        self._check_current(self._db.connection, key)
        return record, unseal(record, key)

    def authentic(self, label: str) -> KeyRecord:
        """The record, refused unless its MAC verifies under the master key."""
        return self._get_authentic(self._db.connection, label, self._master_key())

    def verify_all(self) -> list[RecordProblem]:
        """Check every record's MAC and ciphertext; list the ones that fail."""
        key = self._master_key()
        self._check_current(self._db.connection, key)
        problems = []
        for record in self.records():
            try:
                unseal(record, key)
            except IntegrityError:
                problems.append(RecordProblem(record.label, "failed verification"))
        return problems

    def reencrypt_all(
        self, conn: sqlite3.Connection, old: MasterKey, new: MasterKey
    ) -> int:
        """Re-encrypt every record from `old` to `new` in the caller's transaction."""
        rows = conn.execute(f"SELECT {COLUMNS} FROM api_keys").fetchall()  # noqa: S608
        for row in rows:
            record = KeyRecord(*row)
            material = unseal(record, old)
            self._replace(
                conn,
                sign(replace(record, ciphertext=seal(record.id, material, new)), new),
            )
        return len(rows)

    def _get(self, conn: sqlite3.Connection, label: str) -> KeyRecord:
        record = self._find(conn, normalize_label(label))
        if record is None:
            raise NotFoundError(
                f"no key labelled {label[:64]!r}; see crypto-trader keys list"
            )
        return record

    def _get_authentic(
        self, conn: sqlite3.Connection, label: str, key: MasterKey
    ) -> KeyRecord:
        self._check_current(conn, key)
        record = self._get(conn, label)
        unseal(record, key)
        return record

    @staticmethod
    def _check_current(conn: sqlite3.Connection, key: MasterKey) -> None:
        # Another process may have rotated the master key since this one unlocked
        # it: sealing under the retired key would make the record unreadable.
        row = conn.execute(
            "SELECT value FROM meta WHERE name = ?", (FINGERPRINT_META,)
        ).fetchone()
        if row is None or row[0] != key.fingerprint:
            raise VaultError(
                "the master key was rotated by another process while this one was "
                "running; run the command again"
            )

    @staticmethod
    def _find(conn: sqlite3.Connection, name: str) -> KeyRecord | None:
        row = conn.execute(
            f"SELECT {COLUMNS} FROM api_keys WHERE label_key = ?",  # noqa: S608
            (label_key(name),),
        ).fetchone()
        return None if row is None else KeyRecord(*row)

    @staticmethod
    def _replace(conn: sqlite3.Connection, record: KeyRecord) -> None:
        conn.execute(
            "UPDATE api_keys SET permission = ?, api_key_hint = ?, ciphertext = ?, "
            "updated_at = ?, mac = ? WHERE id = ?",
            (
                record.permission,
                record.api_key_hint,
                record.ciphertext,
                record.updated_at,
                record.mac,
                record.id,
            ),
        )
