"""Rotating the master key: every secret survives, the old key's ciphertexts go,
and a SIGKILL at any point of the rotation leaves a home that the next run fixes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.fernet import InvalidToken

from crypto_trader.audit.events import EventType
from crypto_trader.audit.head_file import read_head
from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import Permission
from crypto_trader.vault.key_stores.base import StoredKeys
from crypto_trader.vault.key_stores.file_store import FileKeyStore
from crypto_trader.vault.master_key import MasterKey
from crypto_trader.vault.secrets import KeyMaterial, SecretStr
from tests.conftest import CANARY_SECRET, PASSPHRASE, FixedClock
from tests.support.cli import CliRunner, child_env, run_process

FERNET_TOKEN = re.compile(rb"gAAAAA[A-Za-z0-9_\-=]+")
PEM = (
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oZzAgMS0xMjM0NTY3oAoGCCqG\n"
    "-----END EC PRIVATE KEY-----\n"
)
SECRETS = {
    "binance-main": ("binance", "AKIAEXAMPLEKEY12345678", CANARY_SECRET, None),
    "kraken-pem": ("kraken", "organizations/abc/apiKeys/def", PEM, None),
    "okx-trading": ("okx", "okx-api-key-0123456789", "okx-secret-value", "okx-pass"),
}


def passphrase(new: bool) -> SecretStr:
    return SecretStr(PASSPHRASE)


def add_keys(installation: Installation) -> None:
    for label, (exchange, api_key, secret, extra) in SECRETS.items():
        material = KeyMaterial(
            SecretStr(api_key),
            SecretStr(secret),
            None if extra is None else SecretStr(extra),
        )
        installation.vault.add(label, exchange, Permission.TRADING, material)


def assert_every_secret_opens(installation: Installation) -> None:
    assert installation.vault.verify_all() == []
    for label, (_, api_key, secret, extra) in SECRETS.items():
        _, material = installation.vault.open(label)
        assert material.api_key.reveal() == api_key
        assert material.secret.reveal() == secret
        opened_extra = material.passphrase
        assert (None if opened_extra is None else opened_extra.reveal()) == extra


def stored_keys(home: Home) -> StoredKeys:
    return FileKeyStore(home.master_key_file, passphrase).load()


def database_bytes(home: Home) -> bytes:
    wal = home.database.with_name(home.database.name + "-wal")
    return home.database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def tokens_opened_by(key: MasterKey, data: bytes) -> list[bytes]:
    """Every Fernet token in `data` that `key` decrypts.

    A token in a page runs straight into the next column's text, so each match is
    tried at every base64 length (a multiple of 4) it could end at.
    """
    fernet = key.fernet()
    opened = []
    for match in FERNET_TOKEN.finditer(data):
        text = match.group()
        for end in range(len(text) - len(text) % 4, 96, -4):
            try:
                fernet.decrypt(text[:end])
            except InvalidToken:
                continue
            opened.append(text[:end])
            break
    return opened


def ciphertexts(installation: Installation) -> list[str]:
    return [record.ciphertext for record in installation.vault.records()]


@pytest.fixture
def prepared(
    home: Home, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> MasterKey:
    """A home on the file store holding SECRETS; returns its master key."""
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "file")
    installation = Installation.open(home, passphrase, clock, "tester")
    try:
        add_keys(installation)
        return installation.custody.unlock()
    finally:
        installation.close()


@pytest.fixture
def reopened(
    home: Home, clock: FixedClock, prepared: MasterKey
) -> Iterator[Installation]:
    installation = Installation.open(home, passphrase, clock, "tester")
    yield installation
    installation.close()


def assert_no_trace_of(keys: list[MasterKey], home: Home) -> None:
    data = database_bytes(home)
    for key in keys:
        assert tokens_opened_by(key, data) == []


def left_over(old_ciphertexts: list[str], home: Home) -> list[str]:
    """The old ciphertexts still present, shortened for a readable failure."""
    data = database_bytes(home)
    return [c[:24] for c in old_ciphertexts if c.encode() in data]


# A complete rotation ------------------------------------------------------------


def test_the_scanner_finds_ciphertexts_under_the_current_key(
    prepared: MasterKey, home: Home
) -> None:
    # Without this, "no token decrypts under the old key" could pass by finding
    # no tokens at all.
    assert len(tokens_opened_by(prepared, database_bytes(home))) >= len(SECRETS)
    assert tokens_opened_by(MasterKey.generate(), database_bytes(home)) == []


def test_rotation_re_encrypts_everything_and_retires_the_old_key(
    reopened: Installation, prepared: MasterKey, home: Home
) -> None:
    old_ciphertexts = ciphertexts(reopened)

    count = reopened.custody.rotate(reopened.vault.reencrypt_all)

    new = reopened.custody.unlock()
    assert count == len(SECRETS)
    assert new.fingerprint != prepared.fingerprint
    assert reopened.custody.fingerprint() == new.fingerprint
    assert stored_keys(home) == StoredKeys(current=new)
    assert_every_secret_opens(reopened)
    rotated = reopened.audit.records(EventType.MASTER_KEY_CHANGED.value)[-1]
    assert rotated.details == {
        "action": "rotated",
        "store": "file",
        "old_fingerprint": prepared.fingerprint,
        "fingerprint": new.fingerprint,
        "records": len(SECRETS),
    }
    assert reopened.verify_audit().ok
    head = read_head(home.audit_head)
    assert head is not None
    assert head[0].key_fingerprint == new.fingerprint
    assert left_over(old_ciphertexts, home) == []
    assert tokens_opened_by(prepared, database_bytes(home)) == []
    assert len(tokens_opened_by(new, database_bytes(home))) >= len(SECRETS)


def test_no_old_ciphertext_remains_after_the_database_is_closed(
    reopened: Installation, prepared: MasterKey, home: Home
) -> None:
    old_ciphertexts = ciphertexts(reopened)
    reopened.custody.rotate(reopened.vault.reencrypt_all)
    reopened.vault.verify_all()
    reopened.close()

    assert left_over(old_ciphertexts, home) == []
    assert tokens_opened_by(prepared, database_bytes(home)) == []
    everything = b"".join(p.read_bytes() for p in home.root.rglob("*") if p.is_file())
    assert prepared.to_text().encode() not in everything


def test_two_rotations_in_a_row_keep_everything_readable(
    reopened: Installation, prepared: MasterKey, home: Home
) -> None:
    reopened.custody.rotate(reopened.vault.reencrypt_all)
    middle = reopened.custody.unlock()
    reopened.custody.rotate(reopened.vault.reencrypt_all)

    assert_every_secret_opens(reopened)
    assert reopened.verify_audit().ok
    assert_no_trace_of([prepared, middle], home)
    actions = [
        r.details["action"]
        for r in reopened.audit.records(EventType.MASTER_KEY_CHANGED.value)
    ]
    assert actions == ["created", "rotated", "rotated"]


def test_rotate_master_on_the_command_line(
    prepared: MasterKey, cli: CliRunner, home: Home
) -> None:
    outcome = cli("keys", "rotate-master")

    assert outcome.code == 0, outcome.err
    assert f"{len(SECRETS)} keys re-encrypted" in outcome.out
    assert cli("keys", "verify").code == 0
    assert cli("audit", "verify").code == 0
    current = stored_keys(home).current
    assert current is not None
    assert current.fingerprint != prepared.fingerprint
    assert_no_trace_of([prepared], home)


def test_rotation_before_any_key_exists_is_refused(
    installation: Installation, home: Home
) -> None:
    from crypto_trader.errors import MasterKeyMissingError

    with pytest.raises(MasterKeyMissingError):
        installation.custody.rotate(installation.vault.reencrypt_all)
    assert not home.master_key_file.exists()


# Crashes --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KillPoint:
    """Where the child dies, and what the home must look like right after."""

    spec: str
    committed: bool
    pending_saved: bool = True
    head_pending: bool = False


KILL_POINTS = {
    "before the pending key is saved": KillPoint(
        "crypto_trader.vault.key_stores.file_store:FileKeyStore.save:1",
        committed=False,
        pending_saved=False,
    ),
    "at the re-encryption step": KillPoint(
        "crypto_trader.vault.key_vault:KeyVault.reencrypt_all", committed=False
    ),
    "before the fingerprint changes": KillPoint(
        "crypto_trader.vault.custody:Database.set_meta", committed=False
    ),
    "after the pending head, before COMMIT": KillPoint(
        "crypto_trader.secure_fs:fsync_dir:2", committed=False, head_pending=True
    ),
    "after COMMIT, before the head is confirmed": KillPoint(
        "crypto_trader.audit.audit_log:write_head:2", committed=True, head_pending=True
    ),
    "after the head, before the scrub": KillPoint(
        "crypto_trader.storage.database:Database.scrub", committed=True
    ),
    "half-way through the scrub": KillPoint(
        "crypto_trader.storage.database:Database._checkpoint:2", committed=True
    ),
    "before the new key is promoted": KillPoint(
        "crypto_trader.vault.key_stores.file_store:FileKeyStore.save:2",
        committed=True,
    ),
}


def child(home: Home, **extra: str) -> dict[str, str]:
    return child_env(
        CRYPTO_TRADER_HOME=str(home.root),
        CRYPTO_TRADER_KEY_STORE="file",
        CRYPTO_TRADER_KEY_PASSPHRASE=PASSPHRASE,
        **extra,
    )


def fingerprint_in_database(home: Home, clock: FixedClock) -> str | None:
    installation = Installation.open(home, passphrase, clock, "tester")
    try:
        return installation.custody.fingerprint()
    finally:
        installation.close()


@pytest.mark.slow
@pytest.mark.parametrize("point", KILL_POINTS.values(), ids=KILL_POINTS.keys())
def test_a_kill_during_rotation_leaves_every_secret_readable(
    prepared: MasterKey, home: Home, clock: FixedClock, point: KillPoint
) -> None:
    killed = run_process(
        "keys", "rotate-master", env=child(home, CRYPTO_TRADER_TEST_KILL_AT=point.spec)
    )

    assert killed.returncode == -9, killed.stderr
    interrupted = stored_keys(home)
    assert interrupted.current == prepared
    assert (interrupted.pending is not None) is point.pending_saved
    expected = prepared.fingerprint
    if point.committed:
        assert interrupted.pending is not None
        expected = interrupted.pending.fingerprint
    assert fingerprint_in_database(home, clock) == expected
    head = read_head(home.audit_head)
    assert head is not None
    assert (head[0].pending_seq is not None) is point.head_pending

    verified = run_process("keys", "verify", env=child(home))

    assert verified.returncode == 0, verified.stderr
    assert f"all {len(SECRETS)} keys verified" in verified.stdout
    settled = stored_keys(home)
    assert settled.pending is None
    assert settled.current is not None
    assert settled.current.fingerprint == expected
    installation = Installation.open(home, passphrase, clock, "tester")
    try:
        assert installation.verify_audit().ok
        assert_every_secret_opens(installation)

        installation.custody.rotate(installation.vault.reencrypt_all)

        final = installation.custody.unlock()
        assert final.fingerprint != prepared.fingerprint
        assert stored_keys(home) == StoredKeys(current=final)
        assert_every_secret_opens(installation)
        assert installation.verify_audit().ok
    finally:
        installation.close()
    retired = [prepared, settled.current]
    if interrupted.pending is not None:
        retired.append(interrupted.pending)
    assert_no_trace_of([k for k in retired if k != final], home)


@pytest.mark.slow
def test_after_a_kill_during_recovery_rotate_master_completes(
    prepared: MasterKey, home: Home
) -> None:
    commit = KILL_POINTS["after COMMIT, before the head is confirmed"].spec
    promotion = "crypto_trader.vault.key_stores.file_store:FileKeyStore.save:1"
    first = run_process(
        "keys", "rotate-master", env=child(home, CRYPTO_TRADER_TEST_KILL_AT=commit)
    )
    second = run_process(
        "keys", "verify", env=child(home, CRYPTO_TRADER_TEST_KILL_AT=promotion)
    )
    assert [first.returncode, second.returncode] == [-9, -9]
    interrupted = stored_keys(home)
    assert interrupted.pending is not None

    again = run_process("keys", "rotate-master", env=child(home))
    audited = run_process("audit", "verify", env=child(home))

    assert again.returncode == 0, again.stderr
    assert f"{len(SECRETS)} keys re-encrypted" in again.stdout
    assert audited.returncode == 0, audited.stderr
    final = stored_keys(home)
    assert final.pending is None
    assert final.current is not None
    assert final.current not in (prepared, interrupted.pending)
    assert_no_trace_of([prepared, interrupted.pending], home)
