"""Checking the audit chain and its head."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from crypto_trader.audit.events import GENESIS_HASH, EventType, chain_hash
from crypto_trader.audit.head_file import AuditHead, head_is_authentic, read_head
from crypto_trader.errors import IntegrityError
from crypto_trader.vault.master_key import MasterKey


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What `audit verify` found."""

    ok: bool
    records: int
    first_bad_seq: int | None = None
    problem: str | None = None
    anchored_seq: int | None = None
    unanchored: int = 0
    head: str = "absent"

    def as_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready mapping."""
        return asdict(self)


def verify_chain(
    conn: sqlite3.Connection,
    head_path: Path,
    keys: Iterable[MasterKey],
    head_required: bool,
) -> ChainReport:
    """Check every link, then the tail against the authenticated head."""
    hashes: dict[int, str] = {}
    event_types: dict[int, str] = {}
    expected_seq, prev = 1, GENESIS_HASH
    rows = conn.execute(
        "SELECT seq, timestamp, event_type, user_id, details, prev_hash, hash "
        "FROM audit_log ORDER BY seq"
    )
    for seq, timestamp, event_type, user_id, details, prev_hash, digest in rows:
        problem = _link_problem(seq, expected_seq, prev, prev_hash)
        if problem is None:
            recomputed = chain_hash(seq, timestamp, event_type, user_id, details, prev)
            if recomputed != digest:
                problem = f"record {seq} was altered"
        if problem is not None:
            return ChainReport(False, len(hashes), first_bad_seq=seq, problem=problem)
        hashes[seq] = digest
        event_types[seq] = event_type
        expected_seq, prev = seq + 1, digest
    report = _check_head(hashes, head_path, list(keys), head_required)
    return _check_unanchored(report, event_types)


def _check_unanchored(report: ChainReport, event_types: dict[int, str]) -> ChainReport:
    """Only ERROR records are ever written without the master key; refuse any other."""
    if not report.ok or not report.unanchored:
        return report
    first = report.records - report.unanchored + 1
    for seq in range(first, report.records + 1):
        if event_types[seq] != EventType.ERROR:
            return replace(
                report,
                ok=False,
                first_bad_seq=seq,
                problem=f"record {seq} ({event_types[seq][:40]}) is newer than the "
                "audit head and was not written with the master key: records were "
                "appended outside Crypto Trader",
            )
    return report


def _link_problem(seq: int, expected: int, prev: str, prev_hash: str) -> str | None:
    if seq != expected:
        return (
            f"record {seq} follows record {expected - 1}: "
            f"record {expected} was deleted or the records were renumbered"
        )
    if prev_hash != prev:
        return f"record {seq} does not follow record {seq - 1}: records were changed"
    return None


def _check_head(
    hashes: dict[int, str], head_path: Path, keys: list[MasterKey], required: bool
) -> ChainReport:
    last = max(hashes, default=0)
    try:
        found = read_head(head_path)
    except IntegrityError as exc:
        return ChainReport(False, last, problem=str(exc), head="invalid")
    if found is None:
        if required:
            return ChainReport(
                False, last, problem="the audit head file is missing", head="missing"
            )
        return ChainReport(True, last, unanchored=last)
    head, mac = found
    key = next((k for k in keys if k.fingerprint == head.key_fingerprint), None)
    if key is None:
        return ChainReport(
            False,
            last,
            problem="the master key that signs the head is not available",
            head="unverified",
        )
    if not head_is_authentic(head, mac, key):
        return ChainReport(
            False, last, problem="the audit head failed authentication", head="invalid"
        )
    return _anchor(hashes, head, last)


def _anchor(hashes: dict[int, str], head: AuditHead, last: int) -> ChainReport:
    if (
        head.pending_seq is not None
        and hashes.get(head.pending_seq) == head.pending_hash
    ):
        anchored = head.pending_seq
    elif head.seq == 0 or hashes.get(head.seq) == head.hash:
        anchored = head.seq
    elif last < head.seq:
        return ChainReport(
            False,
            last,
            first_bad_seq=last + 1,
            problem=f"records {last + 1} to {head.seq} are missing: "
            "the newest records were removed",
            head="valid",
        )
    else:
        return ChainReport(
            False,
            last,
            first_bad_seq=head.seq,
            problem=f"record {head.seq} does not match the audit head: "
            "the chain was rewritten",
            head="valid",
        )
    return ChainReport(
        True, last, anchored_seq=anchored, unanchored=last - anchored, head="valid"
    )
