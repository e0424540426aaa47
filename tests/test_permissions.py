"""The permission check: the key's current level, every call; refusals are audited."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import pytest

from crypto_trader.errors import AuditWriteError, IntegrityError, PermissionDeniedError
from crypto_trader.installation import Installation
from crypto_trader.permissions import Operation, allows
from crypto_trader.vault.key_record import Permission, sign
from crypto_trader.vault.secrets import KeyMaterial, SecretStr
from tests.conftest import CANARY_SECRET, fixed_passphrase
from tests.support.cli import CliRunner

API_KEY = "AKIAEXAMPLEKEY12345678"


def material() -> KeyMaterial:
    return KeyMaterial(SecretStr(API_KEY), SecretStr(CANARY_SECRET))


@pytest.fixture
def keys(installation: Installation) -> Installation:
    installation.vault.add("reader", "binance", Permission.READ_ONLY, material())
    installation.vault.add("trader", "binance", Permission.TRADING, material())
    return installation


def execute(installation: Installation, statement: str, *params: object) -> None:
    conn = sqlite3.connect(installation.home.database)
    try:
        with conn:
            conn.execute(statement, params)
    finally:
        conn.close()


def write_level(installation: Installation, label: str, level: str) -> None:
    """Store `level` with a valid MAC, as only the master key's holder could."""
    key = installation.custody.unlock()
    record = sign(replace(installation.vault.get(label), permission=level), key)
    execute(
        installation,
        "UPDATE api_keys SET permission = ?, mac = ? WHERE id = ?",
        record.permission,
        record.mac,
        record.id,
    )


def denials(installation: Installation) -> list[dict[str, object]]:
    return [r.details for r in installation.audit.records("PERMISSION_DENIED")]


@pytest.mark.parametrize(
    ("label", "operation", "allowed"),
    [
        ("reader", Operation.READ, True),
        ("reader", Operation.TRADE, False),
        ("trader", Operation.READ, True),
        ("trader", Operation.TRADE, True),
    ],
)
def test_reads_for_both_levels_trades_only_for_trading(
    keys: Installation, label: str, operation: Operation, allowed: bool
) -> None:
    before = len(keys.audit.records())

    if allowed:
        keys.gate.check(label, operation, "request")
        assert len(keys.audit.records()) == before
    else:
        with pytest.raises(PermissionDeniedError):
            keys.gate.check(label, operation, "request")
        assert len(keys.audit.records()) == before + 1


def test_a_refusal_is_exit_3_and_one_audit_record_without_secrets(
    keys: Installation,
) -> None:
    before = len(keys.audit.records())

    with pytest.raises(PermissionDeniedError) as refused:
        keys.gate.check("reader", Operation.TRADE, "create_order BTC/USDT buy 0.1")

    records = keys.audit.records()
    assert refused.value.exit_code == 3
    message = str(refused.value)
    assert "\n" not in message
    assert "crypto-trader keys set-permission reader trading" in message
    assert len(records) == before + 1
    last = records[-1]
    assert last.event_type == "PERMISSION_DENIED"
    assert last.details["label"] == "reader"
    assert last.details["operation"] == "trade"
    assert last.details["permission"] == "read-only"
    assert last.details["request"] == "create_order BTC/USDT buy 0.1"
    exported = json.dumps(last.to_json_object())
    for secret in (CANARY_SECRET, API_KEY):
        assert secret not in exported
        assert secret not in message
    assert keys.verify_audit().ok


def test_the_fix_names_a_label_with_spaces_so_it_can_be_pasted(
    installation: Installation,
) -> None:
    installation.vault.add("my key", "kraken", Permission.READ_ONLY, material())

    with pytest.raises(PermissionDeniedError) as refused:
        installation.gate.check("my key", Operation.TRADE, "create_order")

    assert "keys set-permission 'my key' trading" in str(refused.value)


def test_the_gate_reads_the_current_level_on_every_call(keys: Installation) -> None:
    # The level is changed by another process between two checks.
    other = Installation.open(keys.home, fixed_passphrase, user_id="other")
    try:
        keys.gate.check("trader", Operation.TRADE, "create_order")
        other.vault.set_permission("trader", Permission.READ_ONLY)
        with pytest.raises(PermissionDeniedError):
            keys.gate.check("trader", Operation.TRADE, "create_order")
        other.vault.set_permission("trader", Permission.TRADING)
        keys.gate.check("trader", Operation.TRADE, "create_order")
    finally:
        other.close()

    assert [d["label"] for d in denials(keys)] == ["trader"]


@pytest.mark.parametrize(
    "level", ["admin", "", "TRADING", "trading ", "read-only\n", "trade", "*"]
)
def test_an_unknown_level_denies_everything(keys: Installation, level: str) -> None:
    write_level(keys, "trader", level)
    assert keys.vault.authentic("trader").permission == level  # MAC is valid

    for operation in (Operation.READ, Operation.TRADE):
        with pytest.raises(PermissionDeniedError) as refused:
            keys.gate.check("trader", operation, f"{operation} request")
        assert "unknown permission level" in str(refused.value)
        assert "\n" not in str(refused.value)

    assert [d["operation"] for d in denials(keys)] == ["read", "trade"]


@pytest.mark.parametrize(
    ("level", "operation", "allowed"),
    [
        ("read-only", Operation.READ, True),
        ("read-only", Operation.TRADE, False),
        ("trading", Operation.READ, True),
        ("trading", Operation.TRADE, True),
        ("admin", Operation.READ, False),
        ("Trading", Operation.TRADE, False),
        ("", Operation.READ, False),
    ],
)
def test_allows(level: str, operation: Operation, allowed: bool) -> None:
    assert allows(level, operation) is allowed


def test_a_level_escalated_in_the_database_is_refused(keys: Installation) -> None:
    execute(keys, "UPDATE api_keys SET permission = 'trading' WHERE label = 'reader'")

    with pytest.raises(IntegrityError):
        keys.gate.check("reader", Operation.TRADE, "create_order")
    with pytest.raises(IntegrityError):
        keys.gate.check("reader", Operation.READ, "fetch_balance")


def test_a_refusal_that_cannot_be_recorded_still_refuses(keys: Installation) -> None:
    execute(
        keys,
        "CREATE TRIGGER refuse BEFORE INSERT ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'read-only'); END",
    )

    with pytest.raises(AuditWriteError):
        keys.gate.check("reader", Operation.TRADE, "create_order")


def test_set_permission_is_audited_with_old_and_new(
    keys: Installation, cli: CliRunner
) -> None:
    outcome = cli("keys", "set-permission", "READER", "trading")

    last = keys.audit.records()[-1]
    assert outcome.code == 0, outcome.err
    assert last.event_type == "PERMISSION_CHANGED"
    assert last.details == {
        "label": "reader",
        "exchange": "binance",
        "old": "read-only",
        "new": "trading",
    }
    keys.gate.check("reader", Operation.TRADE, "create_order")
    assert keys.verify_audit().ok


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("reader", "admin"), 2),
        (("reader", "trading\n"), 0),
        (("nobody", "trading"), 1),
    ],
)
def test_set_permission_refusals_change_and_record_nothing(
    keys: Installation, cli: CliRunner, args: tuple[str, str], code: int
) -> None:
    before = keys.audit.records()

    outcome = cli("keys", "set-permission", *args)

    assert outcome.code == code
    if code:
        assert len(outcome.err.strip().splitlines()) == 1
        assert keys.audit.records() == before
        assert keys.vault.get("reader").permission == "read-only"
