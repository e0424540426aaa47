"""The security report: store, file modes, key ages, integrity, audit chain."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet

from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.security_report import build_report
from crypto_trader.vault.key_record import Permission
from crypto_trader.vault.secrets import KeyMaterial, SecretStr
from tests.conftest import CANARY_SECRET, FixedClock, fixed_passphrase
from tests.support.cli import CliRunner


def material(secret: str = CANARY_SECRET) -> KeyMaterial:
    return KeyMaterial(SecretStr("AKIAEXAMPLEKEY12345678"), SecretStr(secret))


def add(installation: Installation, label: str = "main") -> None:
    installation.vault.add(label, "binance", Permission.TRADING, material())


def report_at(
    installation: Installation, clock: FixedClock, days: float = 0
) -> dict[str, Any]:
    return build_report(installation, now=clock.now + timedelta(days=days))


def key_entry(report: dict[str, Any], label: str = "main") -> dict[str, Any]:
    return next(k for k in report["keys"] if k["label"] == label)


def test_a_clean_installation_needs_no_attention(
    installation: Installation, clock: FixedClock
) -> None:
    add(installation)

    report = report_at(installation, clock)

    assert report["ok"] is True
    assert report["attention"] == []
    assert report["key_store"]["name"] == "file"
    assert str(installation.home.master_key_file) in report["key_store"]["backend"]
    assert report["development_key_source"] is False
    assert report["audit"]["ok"] is True
    assert report["audit"]["records"] == 2
    assert report["key_max_age_days"] == 90
    assert key_entry(report) == {
        "label": "main",
        "exchange": "binance",
        "permission": "trading",
        "created_at": "2026-01-15T12:00:00Z",
        "age_days": 0,
        "status": "ok",
        "last_check": None,
    }
    assert CANARY_SECRET not in json.dumps(report)


def test_file_modes_are_listed(installation: Installation, clock: FixedClock) -> None:
    add(installation)
    home = installation.home

    modes = {e["path"]: e["mode"] for e in report_at(installation, clock)["files"]}

    assert modes[str(home.root)] == "0700"
    assert modes[str(home.logs)] == "0700"
    for path in (home.database, home.audit_head, home.master_key_file):
        assert modes[str(path)] == "0600"


@pytest.mark.parametrize(
    ("pick", "loose", "fix"),
    [
        (lambda home: home.database, 0o644, "chmod 600"),
        (lambda home: home.audit_head, 0o640, "chmod 600"),
        (lambda home: home.root, 0o755, "chmod 700"),
    ],
)
def test_a_loose_mode_needs_attention_naming_the_fix(
    installation: Installation,
    clock: FixedClock,
    pick: Any,
    loose: int,
    fix: str,
) -> None:
    add(installation)
    path = pick(installation.home)
    path.chmod(loose)

    report = report_at(installation, clock)

    assert report["ok"] is False
    assert f"{path} has mode {loose:04o}; run: {fix} {path}" in report["attention"]
    entry = next(e for e in report["files"] if e["path"] == str(path))
    assert entry["ok"] is False


def test_a_key_past_the_default_age_asks_for_rotation(
    installation: Installation, clock: FixedClock
) -> None:
    add(installation)

    at_limit = report_at(installation, clock, days=90)
    past = report_at(installation, clock, days=91)

    assert at_limit["ok"] is True
    assert key_entry(at_limit)["status"] == "ok"
    assert key_entry(past)["status"] == "rotate"
    assert key_entry(past)["age_days"] == 91
    assert past["attention"] == [
        "key 'main' is 91 days old (limit 90); create a new key on the exchange "
        "and run: crypto-trader keys update main"
    ]


def test_the_age_limit_follows_the_setting(
    installation: Installation, clock: FixedClock
) -> None:
    add(installation)
    installation.settings.set("security.key_max_age_days", "30")

    assert report_at(installation, clock, days=30)["ok"] is True
    report = report_at(installation, clock, days=31)

    assert report["key_max_age_days"] == 30
    assert key_entry(report)["status"] == "rotate"
    assert "(limit 30)" in report["attention"][0]


def test_new_material_restarts_the_age(
    installation: Installation, clock: FixedClock
) -> None:
    add(installation)
    add(installation, "other")
    clock.advance(days=80)
    installation.vault.update("main", material("a-new-secret-from-the-exchange"))
    installation.vault.set_permission("other", Permission.READ_ONLY)

    report = report_at(installation, clock, days=20)

    assert key_entry(report)["age_days"] == 20
    assert key_entry(report)["status"] == "ok"
    assert key_entry(report, "other")["age_days"] == 100
    assert key_entry(report, "other")["status"] == "rotate"


def test_a_tampered_record_needs_attention(
    installation: Installation, clock: FixedClock
) -> None:
    add(installation)
    add(installation, "spare")
    installation.db.connection.execute(
        "UPDATE api_keys SET permission = 'read-only' WHERE label = 'main'"
    )

    report = report_at(installation, clock)

    assert key_entry(report)["status"] == "failed verification"
    assert key_entry(report, "spare")["status"] == "ok"
    assert report["attention"] == ["key 'main' failed verification"]


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("UPDATE audit_log SET details = '{}' WHERE seq = 2", "record 2 was altered"),
        ("DELETE FROM audit_log WHERE seq = 3", "the newest records were removed"),
    ],
)
def test_an_audit_chain_problem_needs_attention(
    installation: Installation, clock: FixedClock, statement: str, problem: str
) -> None:
    add(installation)
    add(installation, "spare")
    installation.db.connection.execute(statement)

    report = report_at(installation, clock)

    assert report["audit"]["ok"] is False
    assert problem in report["audit"]["problem"]
    assert report["attention"] == [f"audit log: {report['audit']['problem']}"]


def test_a_development_key_source_needs_attention(
    home: Home, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "env")
    monkeypatch.setenv("CRYPTO_TRADER_ENV", "development")
    monkeypatch.setenv("CRYPTO_TRADER_MASTER_KEY", Fernet.generate_key().decode())
    opened = Installation.open(home, fixed_passphrase, clock=clock, user_id="dev")
    try:
        add(opened)
        report = report_at(opened, clock)
    finally:
        opened.close()

    assert report["key_store"]["name"] == "env"
    assert report["development_key_source"] is True
    assert report["attention"] == [
        "a development-only key source (environment variable) is in use"
    ]


def test_a_wrong_passphrase_leaves_keys_unverified(
    installation: Installation, clock: FixedClock
) -> None:
    add(installation)
    home = installation.home
    installation.close()
    wrong = Installation.open(
        home, lambda new: SecretStr("a wrong passphrase, long enough"), clock=clock
    )
    try:
        report = report_at(wrong, clock)
    finally:
        wrong.close()

    assert key_entry(report)["status"] == "not verified"
    assert report["attention"][0].startswith("stored keys not verified: wrong")


def test_the_command_exits_0_when_clean_and_3_with_attention(
    cli: CliRunner, home: Home
) -> None:
    key = json.dumps({"api_key": "AKIAEXAMPLEKEY12345678", "secret": CANARY_SECRET})
    add_args = (
        "keys",
        "add",
        "--exchange",
        "binance",
        "--label",
        "main",
        "--stdin",
        "--no-check",
    )
    assert cli(*add_args, stdin=key).code == 0

    clean = cli("security-report")
    clean_json = cli("security-report", "--json")
    home.audit_head.chmod(0o644)
    flagged = cli("security-report")
    flagged_json = cli("security-report", "--json")

    assert clean.code == 0
    assert "nothing needs attention" in clean.out
    assert clean_json.code == 0
    assert json.loads(clean_json.out)["attention"] == []
    assert flagged.code == 3
    assert f"warning: {home.audit_head} has mode 0644" in flagged.err
    assert "Traceback" not in flagged.err
    assert flagged_json.code == 3
    document = json.loads(flagged_json.out)
    assert document["attention"]
    assert document["ok"] is False
    assert {"key_store", "files", "keys", "audit"} <= set(document)


def test_config_set_changes_the_age_limit_the_command_reports(
    cli: CliRunner,
) -> None:
    assert cli("config", "set", "security.key_max_age_days", "30").code == 0

    report = json.loads(cli("security-report", "--json").out)

    assert report["key_max_age_days"] == 30
