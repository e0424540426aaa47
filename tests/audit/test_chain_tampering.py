"""`audit verify` against an attacker who edits the database file and the head file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from crypto_trader.audit.events import chain_hash
from crypto_trader.audit.head_file import AuditHead, write_head
from crypto_trader.errors import IntegrityError
from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.vault.master_key import MasterKey
from tests.audit.conftest import CHAIN_LENGTH
from tests.audit.tampering import (
    audit_rows,
    execute,
    read_head_document,
    rechain_from,
    write_head_document,
)
from tests.support.cli import CliRunner, Outcome

Tamper = Callable[[Home], None]


def edit_field(column: str, value: str) -> Tamper:
    def tamper(home: Home) -> None:
        execute(home, f"UPDATE audit_log SET {column} = ? WHERE seq = 3", value)  # noqa: S608

    return tamper


def edit_details(home: Home) -> None:
    execute(
        home,
        'UPDATE audit_log SET details = replace(details, \'"new":"trading"\', '
        '\'"new":"read-only"\') WHERE seq = 3',
    )


def delete_record_3(home: Home) -> None:
    execute(home, "DELETE FROM audit_log WHERE seq = 3")


def delete_record_3_and_renumber(home: Home) -> None:
    delete_record_3(home)
    execute(home, "UPDATE audit_log SET seq = seq + 100 WHERE seq > 3")
    execute(home, "UPDATE audit_log SET seq = seq - 101 WHERE seq > 100")


def insert_after_record_3(home: Home) -> None:
    prev = audit_rows(home)[2][6]
    execute(home, "UPDATE audit_log SET seq = seq + 100 WHERE seq > 3")
    execute(home, "UPDATE audit_log SET seq = seq - 99 WHERE seq > 100")
    fields = (4, "2026-01-15T12:02:30Z", "PERMISSION_CHANGED", "tester", "{}", prev)
    execute(
        home,
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?)",
        *fields,
        chain_hash(*fields),
    )


def swap_records_3_and_4(home: Home) -> None:
    execute(home, "UPDATE audit_log SET seq = -3 WHERE seq = 3")
    execute(home, "UPDATE audit_log SET seq = 3 WHERE seq = 4")
    execute(home, "UPDATE audit_log SET seq = 4 WHERE seq = -3")


def swap_and_rechain(home: Home) -> None:
    swap_records_3_and_4(home)
    rechain_from(home, 3)


def edit_and_rechain(home: Home) -> None:
    edit_details(home)
    rechain_from(home, 3)


def delete_newest(count: int) -> Tamper:
    def tamper(home: Home) -> None:
        execute(home, "DELETE FROM audit_log WHERE seq > ?", CHAIN_LENGTH - count)

    return tamper


def delete_newest_and_forge_head(home: Home) -> None:
    delete_newest(1)(home)
    document = read_head_document(home)
    document["seq"] = CHAIN_LENGTH - 1
    document["hash"] = audit_rows(home)[-1][6]
    write_head_document(home, document)


def forge_head_seq_only(home: Home) -> None:
    document = read_head_document(home)
    document["seq"] = CHAIN_LENGTH - 1
    write_head_document(home, document)


def delete_head(home: Home) -> None:
    home.audit_head.unlink()


def garble_head(home: Home) -> None:
    home.audit_head.write_bytes(b'{"seq": "six"')


def nest_head_deeply(home: Home) -> None:
    home.audit_head.write_bytes(b"[" * 4000)


def sign_head_with_another_key(home: Home) -> None:
    stranger = MasterKey.generate()
    last = audit_rows(home)[-1]
    write_head(
        home.audit_head, AuditHead(last[0], last[6], stranger.fingerprint), stranger
    )


# (tamper, first bad record reported, what the one stderr line must name)
CASES: dict[str, tuple[Tamper, int | None, str]] = {
    "edited timestamp": (
        edit_field("timestamp", "2026-01-15T11:00:00Z"),
        3,
        "record 3",
    ),
    "edited event_type": (edit_field("event_type", "ERROR"), 3, "record 3"),
    "edited user_id": (edit_field("user_id", "somebody-else"), 3, "record 3"),
    "edited details": (edit_details, 3, "record 3"),
    "details not json": (edit_field("details", "{not json"), 3, "record 3"),
    "details deeply nested": (edit_field("details", "[" * 100_000), 3, "record 3"),
    "edited hash": (edit_field("hash", "f" * 64), 3, "record 3"),
    "edited prev_hash": (edit_field("prev_hash", "0" * 64), 3, "record 3"),
    "deleted middle record": (delete_record_3, 4, "record 3 was deleted"),
    "deleted and renumbered": (delete_record_3_and_renumber, 3, "record 3"),
    "inserted record": (insert_after_record_3, 5, "record 5"),
    "swapped records": (swap_records_3_and_4, 3, "record 3"),
    "swapped and rechained": (swap_and_rechain, CHAIN_LENGTH, "record 6"),
    "edited and rechained": (edit_and_rechain, CHAIN_LENGTH, "record 6"),
    "newest record removed": (delete_newest(1), 6, "records 6 to 6 are missing"),
    "two newest removed": (delete_newest(2), 5, "records 5 to 6 are missing"),
    "every record removed": (delete_newest(CHAIN_LENGTH), 1, "records 1 to 6"),
    "head forged after removal": (
        delete_newest_and_forge_head,
        None,
        "head failed authentication",
    ),
    "head seq edited": (forge_head_seq_only, None, "head failed authentication"),
    "head deleted": (delete_head, None, "head file is missing"),
    "head garbled": (garble_head, None, "not a valid audit head"),
    "head deeply nested": (nest_head_deeply, None, "not a valid audit head"),
    "head signed by a stranger": (
        sign_head_with_another_key,
        None,
        "key that signs the head is not available",
    ),
}


def assert_refused_naming(outcome: Outcome, named: str) -> None:
    lines = outcome.err.strip().splitlines()
    assert outcome.code == 3, outcome
    assert len(lines) == 1, outcome.err
    assert named in lines[0]
    assert "Traceback" not in outcome.err


def snapshot(home: Home) -> tuple[object, bytes | None]:
    head = home.audit_head.read_bytes() if home.audit_head.exists() else None
    return audit_rows(home), head


@pytest.mark.parametrize(("tamper", "first_bad", "named"), CASES.values(), ids=CASES)
def test_verify_detects_tampering_and_names_the_first_bad_record(
    chain: Installation,
    cli: CliRunner,
    tamper: Tamper,
    first_bad: int | None,
    named: str,
) -> None:
    before = snapshot(chain.home)
    tamper(chain.home)
    assert snapshot(chain.home) != before, "the tampering changed nothing"

    report = chain.verify_audit()

    assert not report.ok
    assert report.first_bad_seq == first_bad
    assert named in str(report.problem)
    assert_refused_naming(cli("audit", "verify"), named)


def test_untouched_chain_verifies_in_the_cli(
    chain: Installation, cli: CliRunner
) -> None:
    outcome = cli("audit", "verify")

    assert outcome.code == 0, outcome.err
    assert f"{CHAIN_LENGTH} records, chain intact" in outcome.out
    assert "note:" not in outcome.out


def test_a_head_file_open_to_others_is_refused(
    chain: Installation, cli: CliRunner
) -> None:
    chain.home.audit_head.chmod(0o644)

    outcome = cli("audit", "verify")

    assert_refused_naming(outcome, "chmod 600")


def test_older_head_copy_is_detected_and_no_later_write_hides_it(
    installation: Installation, cli: CliRunner, tmp_path: Path
) -> None:
    installation.custody.unlock()
    installation.settings.set("security.key_max_age_days", "10")
    installation.settings.set("security.key_max_age_days", "20")
    saved = tmp_path / "head-at-2"
    shutil.copy2(installation.home.audit_head, saved)
    installation.settings.set("security.key_max_age_days", "30")
    installation.settings.set("security.key_max_age_days", "40")
    shutil.copy2(saved, installation.home.audit_head)

    report = installation.verify_audit()
    outcome = cli("audit", "verify")
    with pytest.raises(IntegrityError, match="audit verify"):
        installation.settings.set("security.key_max_age_days", "50")

    assert (report.ok, report.first_bad_seq, report.anchored_seq) == (False, 4, 3)
    assert outcome.code == 3
    assert "record 4" in outcome.err
    assert installation.settings.get("security.key_max_age_days") == 40
    assert installation.verify_audit().first_bad_seq == 4


def test_older_head_copy_still_catches_removal_below_it(
    chain: Installation, cli: CliRunner, tmp_path: Path
) -> None:
    saved = tmp_path / "head-at-6"
    shutil.copy2(chain.home.audit_head, saved)
    chain.settings.set("security.key_max_age_days", "77")
    shutil.copy2(saved, chain.home.audit_head)
    execute(chain.home, "DELETE FROM audit_log WHERE seq >= 5")

    report = chain.verify_audit()

    assert not report.ok
    assert report.first_bad_seq == 5
    assert_refused_naming(cli("audit", "verify"), "records 5 to 6 are missing")


def test_older_head_copy_still_catches_a_rewrite_below_it(
    chain: Installation, tmp_path: Path
) -> None:
    saved = tmp_path / "head-at-6"
    shutil.copy2(chain.home.audit_head, saved)
    chain.settings.set("security.key_max_age_days", "77")
    shutil.copy2(saved, chain.home.audit_head)
    edit_and_rechain(chain.home)

    report = chain.verify_audit()

    assert not report.ok
    assert report.first_bad_seq == CHAIN_LENGTH


def test_a_record_appended_without_the_key_is_reported_unanchored(
    chain: Installation, cli: CliRunner
) -> None:
    last = audit_rows(chain.home)[-1]
    fields = (7, "2026-01-15T12:10:00Z", "ERROR", "tester", "{}", last[6])
    execute(
        chain.home,
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?)",
        *fields,
        chain_hash(*fields),
    )

    report = chain.verify_audit()
    outcome = cli("audit", "verify")

    assert (report.ok, report.anchored_seq, report.unanchored) == (True, 6, 1)
    assert "the newest 1 records were written without the master key" in outcome.out


@pytest.mark.parametrize("details", ["{not json", "[" * 100_000, '"a string"'])
def test_unreadable_details_are_still_shown_and_exported(
    chain: Installation, cli: CliRunner, details: str
) -> None:
    execute(chain.home, "UPDATE audit_log SET details = ? WHERE seq = 3", details)

    shown = cli("audit", "show", "--json")
    exported = cli("audit", "export")

    assert shown.code == 0, shown.err
    assert exported.code == 0, exported.err
    third = json.loads(shown.out)[2]
    assert third["details"] == {"unparseable": details}
    assert len(exported.out.splitlines()) == CHAIN_LENGTH
