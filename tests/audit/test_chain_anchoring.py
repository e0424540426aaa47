"""The head anchors the chain across master key rotations and keyless writes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from crypto_trader.audit.events import EventType
from crypto_trader.errors import VaultError, WrongPassphraseError
from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import Permission
from tests.audit.conftest import CHAIN_LENGTH, Opener, demo_material
from tests.audit.tampering import execute, read_head_document
from tests.conftest import FixedClock
from tests.support.cli import CliRunner


def rotate(installation: Installation) -> None:
    installation.custody.rotate(installation.vault.reencrypt_all)


def test_verification_keeps_working_across_rotations(
    chain: Installation, open_home: Opener, clock: FixedClock
) -> None:
    first_fingerprint = read_head_document(chain.home)["key_fingerprint"]
    rotate(chain)
    clock.advance(minutes=1)
    chain.vault.set_permission("spare", Permission.TRADING)
    rotate(chain)
    chain.settings.set("security.key_max_age_days", "12")

    report = chain.verify_audit()
    fresh = open_home().verify_audit()

    assert read_head_document(chain.home)["key_fingerprint"] != first_fingerprint
    assert (report.ok, report.records, report.unanchored) == (True, 10, 0)
    assert fresh == report


def test_a_head_restored_from_before_a_rotation_is_refused(
    chain: Installation, open_home: Opener, tmp_path: Path
) -> None:
    saved = tmp_path / "head-before-rotation"
    shutil.copy2(chain.home.audit_head, saved)
    rotate(chain)
    shutil.copy2(saved, chain.home.audit_head)

    report = open_home().verify_audit()

    assert not report.ok
    assert report.head == "unverified"


@pytest.mark.parametrize("seq", [2, CHAIN_LENGTH + 2])
def test_tampering_before_or_after_a_rotation_is_still_detected(
    chain: Installation, open_home: Opener, seq: int
) -> None:
    rotate(chain)
    chain.settings.set("security.key_max_age_days", "12")
    execute(chain.home, "UPDATE audit_log SET user_id = 'x' WHERE seq = ?", seq)

    report = open_home().verify_audit()

    assert not report.ok
    assert report.first_bad_seq == seq


def test_removing_the_rotation_record_is_detected(
    chain: Installation, open_home: Opener
) -> None:
    rotate(chain)
    execute(chain.home, "DELETE FROM audit_log WHERE seq = ?", CHAIN_LENGTH + 1)

    report = open_home().verify_audit()

    assert not report.ok
    assert report.first_bad_seq == CHAIN_LENGTH + 1


def test_wrong_passphrase_is_recorded_unanchored_then_anchored_by_next_write(
    chain: Installation, open_home: Opener, cli: CliRunner
) -> None:
    intruder = open_home(passphrase="not the passphrase at all", user_id="mallory")
    with pytest.raises(WrongPassphraseError):
        intruder.vault.open("main")

    report = chain.verify_audit()
    last = chain.audit.records()[-1]
    noted = cli("audit", "verify")
    chain.settings.set("security.key_max_age_days", "33")
    anchored = chain.verify_audit()

    assert (last.event_type, last.user_id) == ("ERROR", "mallory")
    assert last.details["error"] == "WrongPassphraseError"
    assert (report.ok, report.anchored_seq, report.unanchored) == (True, 6, 1)
    assert noted.code == 0
    assert "the newest 1 records were written without the master key" in noted.out
    assert (anchored.ok, anchored.anchored_seq, anchored.unanchored) == (
        True,
        CHAIN_LENGTH + 2,
        0,
    )


def test_an_unanchored_record_edited_before_the_next_write_is_detected(
    chain: Installation, open_home: Opener
) -> None:
    with pytest.raises(WrongPassphraseError):
        open_home(passphrase="not the passphrase at all").vault.open("main")
    chain.settings.set("security.key_max_age_days", "33")
    execute(
        chain.home,
        "UPDATE audit_log SET details = '{}' WHERE seq = ?",
        CHAIN_LENGTH + 1,
    )

    report = chain.verify_audit()

    assert not report.ok
    assert report.first_bad_seq == CHAIN_LENGTH + 1


@pytest.mark.parametrize(
    "operation",
    [
        lambda inst: inst.vault.remove("main"),
        lambda inst: inst.vault.set_permission("main", Permission.READ_ONLY),
        lambda inst: inst.vault.update("main", demo_material("another-secret-1")),
    ],
    ids=["remove", "set-permission", "update"],
)
def test_key_changes_from_a_fresh_process_are_anchored(
    chain: Installation,
    open_home: Opener,
    operation: Callable[[Installation], object],
) -> None:
    # A fresh process that has not unlocked the master key yet still signs the
    # head, so removing its record afterwards is detected.
    operation(open_home())
    anchored = chain.verify_audit()
    execute(chain.home, "DELETE FROM audit_log WHERE seq = ?", CHAIN_LENGTH + 1)

    truncated = chain.verify_audit()

    assert (anchored.anchored_seq, anchored.unanchored) == (CHAIN_LENGTH + 1, 0)
    assert not truncated.ok
    assert truncated.first_bad_seq == CHAIN_LENGTH + 1


def test_a_stale_master_key_in_a_long_running_process_never_seals_a_record(
    chain: Installation, open_home: Opener
) -> None:
    # Another process rotates the master key while this one holds the old one.
    other = open_home()
    rotate(other)

    with pytest.raises(VaultError, match="rotated by another process"):
        chain.vault.add("late", "kraken", Permission.READ_ONLY, demo_material())
    with pytest.raises(VaultError, match="rotated by another process"):
        chain.vault.set_permission("main", Permission.READ_ONLY)

    assert [r.label for r in other.vault.records()] == ["main", "spare"]
    assert other.vault.verify_all() == []
    assert other.verify_audit().ok


def test_a_batch_of_records_is_committed_and_anchored_as_one(
    chain: Installation, open_home: Opener
) -> None:
    entries = [
        (EventType.TRADING_OPERATION, {"action": "placed", "n": n}) for n in range(5)
    ]
    before = read_head_document(chain.home)["seq"]

    with chain.audit.recording_many(entries) as conn:
        conn.execute("INSERT INTO meta (name, value) VALUES ('batch', 'done')")

    head = read_head_document(chain.home)
    records = chain.audit.records("TRADING_OPERATION")
    assert [r.details["n"] for r in records] == [0, 1, 2, 3, 4]
    assert head["seq"] == before + 5
    assert open_home().verify_audit().ok


def test_a_failed_batch_leaves_neither_records_nor_its_writes(
    chain: Installation,
) -> None:
    entries = [(EventType.TRADING_OPERATION, {"n": n}) for n in range(3)]
    head_before = read_head_document(chain.home)

    def half_done() -> None:
        with chain.audit.recording_many(entries) as conn:
            conn.execute("INSERT INTO meta (name, value) VALUES ('batch', 'half')")
            raise RuntimeError("mid-batch")

    with pytest.raises(RuntimeError, match="mid-batch"):
        half_done()

    assert chain.audit.records("TRADING_OPERATION") == []
    found = chain.db.connection.execute("SELECT 1 FROM meta WHERE name = 'batch'")
    assert found.fetchone() is None
    assert read_head_document(chain.home) == head_before
    assert chain.verify_audit().ok
