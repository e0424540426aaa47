"""What an attacker with write access to the home can do to the audit log."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from crypto_trader.audit.events import chain_hash
from crypto_trader.home import Home
from crypto_trader.secure_fs import write_private_atomic

AuditRow = tuple[int, str, str, str, str, str, str]


def execute(home: Home, statement: str, *params: Any) -> None:
    """Run one SQL statement on the database file, outside the program."""
    conn = sqlite3.connect(home.database)
    try:
        with conn:
            conn.execute(statement, params)
    finally:
        conn.close()


def audit_rows(home: Home) -> list[AuditRow]:
    """Every audit row, by sequence number."""
    conn = sqlite3.connect(home.database)
    try:
        return conn.execute(
            "SELECT seq, timestamp, event_type, user_id, details, prev_hash, hash "
            "FROM audit_log ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()


def rechain_from(home: Home, first_seq: int) -> None:
    """Recompute every hash from `first_seq` on, as a forger who knows the scheme."""
    rows = audit_rows(home)
    prev = next(row[6] for row in rows if row[0] == first_seq - 1)
    for seq, timestamp, event_type, user_id, details, _, _ in rows[first_seq - 1 :]:
        digest = chain_hash(seq, timestamp, event_type, user_id, details, prev)
        execute(
            home,
            "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?",
            prev,
            digest,
            seq,
        )
        prev = digest


def read_head_document(home: Home) -> dict[str, Any]:
    """The head file as JSON."""
    document: dict[str, Any] = json.loads(home.audit_head.read_bytes())
    return document


def write_head_document(home: Home, document: dict[str, Any]) -> None:
    """Replace the head file (0600, so only its content is under test)."""
    write_private_atomic(home.audit_head, json.dumps(document).encode("ascii"))
