"""The security report: what `security-report` prints, as one JSON-ready mapping."""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

from crypto_trader.audit.events import EventType
from crypto_trader.clock import system_clock
from crypto_trader.errors import CryptoTraderError, IntegrityError
from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import KeyRecord, unseal


def build_report(
    installation: Installation, now: datetime | None = None
) -> dict[str, Any]:
    """Collect the installation's security state; `attention` lists what to act on."""
    moment = now or system_clock()
    attention: list[str] = []
    store = _store_section(installation, attention)
    files = _file_section(installation, attention)
    max_age = int(installation.settings.get("security.key_max_age_days"))
    keys = _key_section(installation, moment, max_age, attention)
    _add_key_checks(installation, keys, attention)
    audit = _audit_section(installation, attention)
    extra_ca = str(installation.settings.get("exchange.extra_ca_file")) or None
    return {
        "extra_ca_file": extra_ca,
        "key_store": store,
        "development_key_source": bool(store.get("development_only")),
        "files": files,
        "keys": keys,
        "key_max_age_days": max_age,
        "audit": audit,
        "attention": attention,
        "ok": not attention,
    }


def _add_key_checks(
    installation: Installation, keys: list[dict[str, Any]], attention: list[str]
) -> None:
    """Attach each key's last check against its exchange, and flag what it found."""
    from crypto_trader.key_hygiene import last_checks

    checks = last_checks(installation)
    for entry in keys:
        check = checks.get(entry["label"])
        entry["last_check"] = check
        if check is None:
            continue  # `keys check LABEL` runs one; nothing is known to be wrong
        if check["status"] == "unsupported":
            continue  # the exchange does not say; nothing to act on
        if check["status"] in ("refused", "failed", "pending"):
            attention.append(f"key {entry['label']!r}: last check {check['status']}")
        attention.extend(check.get("warnings") or [])


def _store_section(installation: Installation, attention: list[str]) -> dict[str, Any]:
    custody = installation.custody
    try:
        store = custody.store
        section = {
            "name": store.name,
            "backend": store.describe(),
            "development_only": store.development_only(),
        }
    except CryptoTraderError as exc:
        attention.append(f"key store unusable: {exc}")
        return {"name": None, "backend": None, "development_only": False}
    if store.development_only():
        attention.append(
            "a development-only key source (environment variable) is in use"
        )
    return section


def _file_section(
    installation: Installation, attention: list[str]
) -> list[dict[str, Any]]:
    home = installation.home
    paths = [home.root, home.logs, home.database, home.audit_head, home.master_key_file]
    paths += [home.database.with_name(home.database.name + s) for s in ("-wal", "-shm")]
    if home.logs.is_dir():
        paths += sorted(home.logs.iterdir())
    entries = []
    for path in paths:
        entry = _mode_entry(path)
        if entry is None:
            continue
        if not entry["ok"]:
            attention.append(
                f"{path} has mode {entry['mode']}; run: chmod "
                f"{'700' if path.is_dir() else '600'} {path}"
            )
        entries.append(entry)
    return entries


def _mode_entry(path: Path) -> dict[str, Any] | None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    mode = stat.S_IMODE(info.st_mode)
    ok = not stat.S_ISLNK(info.st_mode) and not mode & 0o077
    ok = ok and info.st_uid == os.geteuid()
    return {"path": str(path), "mode": f"{mode:04o}", "ok": ok}


def _key_section(
    installation: Installation, now: datetime, max_age: int, attention: list[str]
) -> list[dict[str, Any]]:
    records = installation.vault.records()
    if not records:
        return []
    try:
        key = installation.custody.unlock(create=False)
    except CryptoTraderError as exc:
        attention.append(f"stored keys not verified: {exc}")
        key = None
    replaced = _material_replaced_at(installation)
    return [
        _key_entry(r, key, now, max_age, attention, replaced.get(r.label, ""))
        for r in records
    ]


def _material_replaced_at(installation: Installation) -> dict[str, str]:
    """When `keys update` last gave each label new material, from the audit log."""
    replaced = {}
    for record in installation.audit.records(EventType.API_KEY_CHANGED.value):
        if record.details.get("action") == "updated":
            replaced[str(record.details.get("label"))] = record.timestamp
    return replaced


def _key_entry(
    record: KeyRecord,
    key: Any,
    now: datetime,
    max_age: int,
    attention: list[str],
    replaced_at: str,
) -> dict[str, Any]:
    # A key's age runs from when its material was set: `keys update` starts it anew.
    since = max(record.created_at, replaced_at)
    age = max(0, (now - datetime.fromisoformat(since.replace("Z", "+00:00"))).days)
    status = "ok"
    if key is None:
        status = "not verified"
    else:
        try:
            unseal(record, key)
        except IntegrityError:
            status = "failed verification"
            attention.append(f"key {record.label!r} failed verification")
    if status == "ok" and age > max_age:
        status = "rotate"
        attention.append(
            f"key {record.label!r} is {age} days old (limit {max_age}); create a new "
            "key on the exchange and run: crypto-trader keys update "
            f"{record.label}"
        )
    return {
        "label": record.label,
        "exchange": record.exchange,
        "permission": record.permission,
        "created_at": record.created_at,
        "age_days": age,
        "status": status,
    }


def _audit_section(installation: Installation, attention: list[str]) -> dict[str, Any]:
    try:
        report = installation.verify_audit().as_dict()
    except CryptoTraderError as exc:
        attention.append(f"audit log not verified: {exc}")
        return {"ok": False, "problem": str(exc), "records": None}
    if not report["ok"]:
        attention.append(f"audit log: {report['problem']}")
    return report
