"""If its audit record cannot be written, an operation does not happen."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from crypto_trader.audit import audit_log
from crypto_trader.errors import AuditWriteError
from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import Permission
from tests.audit.conftest import CHAIN_LENGTH, demo_material
from tests.audit.tampering import audit_rows, execute, read_head_document
from tests.support.cli import CliRunner

KEY_JSON = '{"api_key": "AKIAEXAMPLEKEY12345678", "secret": "s3cret-value-1234"}'
OPERATIONS: dict[str, Callable[[Installation], object]] = {
    "add": lambda i: i.vault.add("new", "kraken", Permission.TRADING, demo_material()),
    "update": lambda i: i.vault.update("main", demo_material("other-secret-123")),
    "set-permission": lambda i: i.vault.set_permission("main", Permission.READ_ONLY),
    "remove": lambda i: i.vault.remove("main"),
    "config set": lambda i: i.settings.set("security.key_max_age_days", "7"),
}


def reject_audit_inserts(installation: Installation) -> None:
    execute(
        installation.home,
        "CREATE TRIGGER refuse BEFORE INSERT ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit log is read-only'); END",
    )


def state_of(installation: Installation) -> tuple[Any, ...]:
    conn = sqlite3.connect(installation.home.database)
    try:
        keys = conn.execute("SELECT * FROM api_keys ORDER BY id").fetchall()
        settings = conn.execute("SELECT * FROM settings ORDER BY name").fetchall()
    finally:
        conn.close()
    return keys, settings, audit_rows(installation.home)


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS)
def test_operation_is_not_done_when_its_record_is_refused(
    chain: Installation, operation: Callable[[Installation], object]
) -> None:
    reject_audit_inserts(chain)
    before = state_of(chain)

    with pytest.raises(AuditWriteError, match="nothing was changed"):
        operation(chain)

    assert state_of(chain) == before
    assert chain.verify_audit().ok


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "add", "--exchange", "kraken", "--label", "new", "--stdin"),
        ("keys", "set-permission", "main", "read-only"),
        ("config", "set", "security.key_max_age_days", "7"),
    ],
    ids=["keys add", "keys set-permission", "config set"],
)
def test_cli_fails_with_one_line_and_changes_nothing(
    chain: Installation, cli: CliRunner, args: tuple[str, ...]
) -> None:
    reject_audit_inserts(chain)
    before = state_of(chain)

    outcome = cli(*args, stdin=KEY_JSON)

    assert outcome.code == 1
    assert len(outcome.err.strip().splitlines()) == 1
    assert "audit record could not be written" in outcome.err
    assert state_of(chain) == before


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS)
def test_operation_is_not_done_when_the_head_cannot_be_written(
    chain: Installation,
    operation: Callable[[Installation], object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(audit_log, "write_head", disk_full)
    before = state_of(chain)

    with pytest.raises(AuditWriteError, match="nothing was changed"):
        operation(chain)
    after = state_of(chain)
    monkeypatch.undo()

    assert after == before
    assert chain.verify_audit().ok


def test_a_failed_confirmation_after_commit_is_not_reported_as_nothing_done(
    chain: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The record is committed and the pending head already anchors it; saying
    # "nothing was changed" now would be false.
    real_write_head = audit_log.write_head
    calls: list[int] = []

    def write_head_then_fail(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_write_head(*args, **kwargs)

    monkeypatch.setattr(audit_log, "write_head", write_head_then_fail)

    chain.vault.set_permission("main", Permission.READ_ONLY)

    report = chain.verify_audit()
    assert len(calls) == 2
    assert chain.vault.get("main").permission == "read-only"
    assert read_head_document(chain.home)["pending_seq"] == CHAIN_LENGTH + 1
    assert (report.ok, report.anchored_seq, report.unanchored) == (
        True,
        CHAIN_LENGTH + 1,
        0,
    )
