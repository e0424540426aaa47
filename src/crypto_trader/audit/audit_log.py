"""Appending to, reading and verifying the audit log."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crypto_trader.audit.events import (
    GENESIS_HASH,
    AuditRecord,
    EventType,
    chain_hash,
    clean_details,
)
from crypto_trader.audit.head_file import (
    AuditHead,
    head_is_authentic,
    read_head,
    write_head,
)
from crypto_trader.canonical import canonical_json
from crypto_trader.clock import Clock, format_utc
from crypto_trader.errors import AuditWriteError, CryptoTraderError, IntegrityError
from crypto_trader.secure_fs import exclusive_lock
from crypto_trader.storage.database import Database
from crypto_trader.vault.master_key import MasterKey

log = logging.getLogger(__name__)

FINGERPRINT_META = "master_key_fingerprint"
HEAD_MISMATCH = (
    "the audit log does not match its head, so nothing was changed; "
    "run crypto-trader audit verify"
)
KeyProvider = Callable[[], MasterKey | None]


@dataclass(slots=True)
class Recording:
    """An open audited transaction: the operation writes through `conn`."""

    conn: sqlite3.Connection
    details: dict[str, Any] = field(default_factory=dict)
    signing_key: MasterKey | None = None


class AuditLog:
    """The append-only, hash-chained record of security events."""

    def __init__(
        self,
        db: Database,
        head_path: Path,
        lock_path: Path,
        user_id: str,
        clock: Clock,
        key_provider: KeyProvider,
    ) -> None:
        self.db = db
        self.head_path = head_path
        self._lock_path = lock_path
        self._user_id = user_id
        self._clock = clock
        self._key_provider = key_provider

    @contextlib.contextmanager
    def recording(
        self, event_type: EventType, details: dict[str, Any] | None = None
    ) -> Iterator[Recording]:
        """Do an operation and record it in one transaction: both happen, or neither."""
        with self._audited(lambda done: [(event_type, done.details)], details) as rec:
            yield rec

    @contextlib.contextmanager
    def recording_many(
        self, entries: Sequence[tuple[EventType, dict[str, Any]]]
    ) -> Iterator[sqlite3.Connection]:
        """Several operations and their records in one transaction, in order.

        For a burst of events (a replayed session's orders and fills): one commit
        and one head update for all of them instead of one each.
        """
        with self._audited(lambda done: list(entries)) as recording:
            yield recording.conn

    @contextlib.contextmanager
    def _audited(
        self,
        entries: Callable[[Recording], list[tuple[EventType, dict[str, Any]]]],
        details: dict[str, Any] | None = None,
    ) -> Iterator[Recording]:
        with exclusive_lock(self._lock_path):
            with self.db.write() as conn:
                recording = Recording(conn, dict(details or {}))
                yield recording
                provided = self._key_provider()
                key = recording.signing_key or self._signing_key(conn, provided)
                if key is not None:
                    self._guard_head(conn, [k for k in (key, provided) if k])
                records = [
                    self._append(conn, kind, d) for kind, d in entries(recording)
                ]
                if key is not None and records:
                    self._write_head(records[0], records[-1], key)
            if key is not None and records:
                self._confirm_head(records[-1], key)

    def record(self, event_type: EventType, details: dict[str, Any]) -> None:
        """Append one record on its own."""
        with self.recording(event_type, details):
            pass

    def record_error(self, details: dict[str, Any]) -> None:
        """Append an ERROR record; a failure to do so is logged, not raised."""
        try:
            self.record(EventType.ERROR, details)
        except (CryptoTraderError, sqlite3.Error, OSError):
            log.exception("could not write an ERROR audit record")

    @staticmethod
    def _signing_key(
        conn: sqlite3.Connection, key: MasterKey | None
    ) -> MasterKey | None:
        if key is None:
            return None
        row = conn.execute(
            "SELECT value FROM meta WHERE name = ?", (FINGERPRINT_META,)
        ).fetchone()
        # A key that is no longer the database's (rotated meanwhile) must not sign.
        return key if row is not None and row[0] == key.fingerprint else None

    def _guard_head(self, conn: sqlite3.Connection, keys: list[MasterKey]) -> None:
        """Refuse to anchor a chain the head does not vouch for.

        Only ERROR records are written without the master key. Anything else past the
        head was added behind the program's back, and signing a new head over it would
        hide that; so the operation is refused until `audit verify` has been looked at.
        """
        found = read_head(self.head_path)
        covered = 0
        if found is not None:
            head, mac = found
            key = next((k for k in keys if k.fingerprint == head.key_fingerprint), None)
            if key is None or not head_is_authentic(head, mac, key):
                raise IntegrityError(HEAD_MISMATCH)
            covered = _covered_seq(conn, head)
        stray = conn.execute(
            "SELECT 1 FROM audit_log WHERE seq > ? AND event_type != ? LIMIT 1",
            (covered, EventType.ERROR.value),
        ).fetchone()
        if stray is not None:
            raise IntegrityError(HEAD_MISMATCH)

    def _append(
        self, conn: sqlite3.Connection, event_type: EventType, details: dict[str, Any]
    ) -> AuditRecord:
        try:
            last = conn.execute(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            seq, prev = (1, GENESIS_HASH) if last is None else (last[0] + 1, last[1])
            body = canonical_json(clean_details(details))
            timestamp = format_utc(self._clock())
            digest = chain_hash(
                seq, timestamp, event_type.value, self._user_id, body, prev
            )
            conn.execute(
                "INSERT INTO audit_log (seq, timestamp, event_type, user_id, details, "
                "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, timestamp, event_type.value, self._user_id, body, prev, digest),
            )
        except sqlite3.Error as exc:
            raise AuditWriteError(
                f"the audit record could not be written ({exc}); nothing was changed"
            ) from exc
        return AuditRecord(
            seq,
            timestamp,
            event_type.value,
            self._user_id,
            json.loads(body),
            prev,
            digest,
        )

    def _write_head(
        self, first: AuditRecord, last: AuditRecord, key: MasterKey
    ) -> None:
        # Pending: the head still vouches for the chain before `first`, and names
        # `last` as the record being committed.
        pending = AuditHead(
            first.seq - 1, first.prev_hash, key.fingerprint, last.seq, last.hash
        )
        self._store_head(pending, key)

    def _store_head(self, head: AuditHead, key: MasterKey) -> None:
        try:
            write_head(self.head_path, head, key)
        except OSError as exc:
            raise AuditWriteError(
                f"the audit head could not be written ({exc.strerror}); "
                "nothing was changed"
            ) from exc

    def _confirm_head(self, record: AuditRecord, key: MasterKey) -> None:
        # The record is committed and the pending entry already anchors it, so a
        # failure here must not claim that nothing happened.
        try:
            self._store_head(AuditHead(record.seq, record.hash, key.fingerprint), key)
        except AuditWriteError:
            log.warning(
                "the audit head could not be confirmed after record %s; its pending "
                "entry still anchors it",
                record.seq,
            )

    def records(
        self,
        event_type: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """Records in order, optionally filtered; `limit` keeps the newest N."""
        clauses, params = [], []
        if event_type is not None:
            clauses.append("event_type = ?")
            params.append(event_type)
        if since is not None:
            clauses.append("timestamp >= ?")
            params.append(format_utc(since))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT * FROM audit_log {where} ORDER BY seq DESC"  # noqa: S608
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        rows = self.db.connection.execute(query, params).fetchall()
        return [row_to_record(row) for row in reversed(rows)]


def _covered_seq(conn: sqlite3.Connection, head: AuditHead) -> int:
    """The newest record the head vouches for; refuses a head the chain contradicts."""

    def hash_at(seq: int) -> str | None:
        row = conn.execute(
            "SELECT hash FROM audit_log WHERE seq = ?", (seq,)
        ).fetchone()
        return None if row is None else str(row[0])

    if head.pending_seq is not None and hash_at(head.pending_seq) == head.pending_hash:
        return head.pending_seq
    if head.seq == 0 or hash_at(head.seq) == head.hash:
        return head.seq
    raise IntegrityError(HEAD_MISMATCH)


def row_to_record(row: tuple[Any, ...]) -> AuditRecord:
    """Turn a database row into a record; unparseable details stay text."""
    seq, timestamp, event_type, user_id, details, prev_hash, digest = row
    try:
        parsed = json.loads(details)
    except (ValueError, RecursionError):
        parsed = {"unparseable": str(details)}
    if not isinstance(parsed, dict):
        parsed = {"unparseable": str(details)}
    return AuditRecord(seq, timestamp, event_type, user_id, parsed, prev_hash, digest)
