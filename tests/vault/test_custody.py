"""Custody of the master key: first use, concurrent first use, missing or wrong keys."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crypto_trader.audit.events import EventType
from crypto_trader.errors import (
    MasterKeyMismatchError,
    MasterKeyMissingError,
    VaultError,
)
from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.vault.custody import STORE_META
from crypto_trader.vault.key_record import Permission
from crypto_trader.vault.key_stores.base import StoredKeys
from crypto_trader.vault.key_stores.file_store import FileKeyStore
from crypto_trader.vault.master_key import MasterKey
from crypto_trader.vault.secrets import KeyMaterial, SecretStr
from crypto_trader.vault.store_choice import StoreName
from tests.conftest import CANARY_SECRET, PASSPHRASE, FixedClock
from tests.support.cli import CliRunner, child_env

MATERIAL = KeyMaterial(SecretStr("AKIAEXAMPLEKEY12345678"), SecretStr(CANARY_SECRET))


def passphrase(new: bool) -> SecretStr:
    return SecretStr(PASSPHRASE)


def key_file_keys(home: Home) -> StoredKeys:
    return FileKeyStore(home.master_key_file, passphrase).load()


def master_key_records(installation: Installation) -> list[dict[str, object]]:
    records = installation.audit.records(EventType.MASTER_KEY_CHANGED.value)
    return [r.details for r in records]


Reopen = Callable[[], Installation]


@pytest.fixture
def reopen(
    home: Home, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Reopen]:
    """Opens further installations on the same home, closing them afterwards."""
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "file")
    opened: list[Installation] = []

    def again() -> Installation:
        opened.append(Installation.open(home, passphrase, clock, "tester"))
        return opened[-1]

    yield again
    for installation in opened:
        installation.close()


def test_first_use_generates_one_key_and_records_it(
    installation: Installation, home: Home, reopen: Reopen
) -> None:
    assert not home.master_key_file.exists()
    assert installation.custody.fingerprint() is None

    key = installation.custody.unlock()

    stored = key_file_keys(home)
    assert stored == StoredKeys(current=key)
    assert installation.custody.fingerprint() == key.fingerprint
    assert installation.db.get_meta(STORE_META) == "file"
    assert master_key_records(installation) == [
        {"action": "created", "store": "file", "fingerprint": key.fingerprint}
    ]
    assert installation.verify_audit().ok

    again = reopen()
    assert again.custody.unlock() == key
    assert installation.custody.unlock() is key
    assert len(master_key_records(again)) == 1
    assert key_file_keys(home).current == key


def test_unlock_without_create_makes_no_key(
    installation: Installation, home: Home
) -> None:
    with pytest.raises(MasterKeyMissingError, match="no master key yet"):
        installation.custody.unlock(create=False)

    assert not home.master_key_file.exists()
    assert installation.custody.fingerprint() is None
    assert master_key_records(installation) == []


def test_listing_keys_on_a_fresh_home_creates_no_key(
    cli: CliRunner, home: Home
) -> None:
    outcome = cli("keys", "list", "--json")

    assert outcome.code == 0
    assert json.loads(outcome.out) == []
    assert not home.master_key_file.exists()


# Each child waits at the door of Custody.unlock until every child has reached it,
# so the first-use race really happens instead of depending on start-up jitter.
BARRIER_SCRIPT = """
import os, sys, time
from pathlib import Path
from crypto_trader.vault.custody import Custody

door, expected = Path(sys.argv[1]), int(sys.argv[2])
original = Custody.unlock
arrived = []

def unlock(self, create=True):
    if not arrived:
        arrived.append(True)
        (door / str(os.getpid())).touch()
        deadline = time.monotonic() + 30
        while len(os.listdir(door)) < expected and time.monotonic() < deadline:
            time.sleep(0.002)
    return original(self, create)

Custody.unlock = unlock
from crypto_trader.cli.main import main
sys.exit(main(sys.argv[3:]))
"""


def _start_all(
    home: Home, folder: Path, commands: list[tuple[list[str], str]]
) -> list[str]:
    """Run every command at once as a child process; return each one's stderr."""
    env = child_env(
        CRYPTO_TRADER_HOME=str(home.root),
        CRYPTO_TRADER_KEY_STORE="file",
        CRYPTO_TRADER_KEY_PASSPHRASE=PASSPHRASE,
    )
    door = folder / "door"
    door.mkdir()
    with contextlib.ExitStack() as stack:
        running = []
        for number, (args, stdin) in enumerate(commands):
            stdin_path, err_path = folder / f"in-{number}", folder / f"err-{number}"
            stdin_path.write_text(stdin)
            barrier = [str(door), str(len(commands))]
            process = subprocess.Popen(
                [sys.executable, "-c", BARRIER_SCRIPT, *barrier, *args],
                stdin=stack.enter_context(stdin_path.open("rb")),
                stdout=subprocess.DEVNULL,
                stderr=stack.enter_context(err_path.open("wb")),
                env=env,
            )
            running.append((stack.enter_context(process), err_path))
        codes = [process.wait(timeout=60) for process, _ in running]
    errors = [err_path.read_text() for _, err_path in running]
    assert codes == [0] * len(commands), errors
    assert len(os.listdir(door)) == len(commands)
    return errors


@pytest.mark.slow
def test_processes_starting_at_once_end_up_with_one_key(
    home: Home, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    labels = ["first", "second", "third"]
    key = json.dumps({"api_key": "AKIAEXAMPLEKEY12345678", "secret": CANARY_SECRET})
    add = ["keys", "add", "--exchange", "kraken", "--stdin", "--label"]
    commands = [([*add, label], key) for label in labels]
    commands.append((["config", "set", "security.key_max_age_days", "30"], ""))

    _start_all(home, tmp_path, commands)

    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "file")
    installation = Installation.open(home, passphrase, clock, "tester")
    try:
        created = [
            d for d in master_key_records(installation) if d["action"] == "created"
        ]
        stored = key_file_keys(home)
        assert len(created) == 1
        assert stored.pending is None
        assert stored.current is not None
        assert created[0]["fingerprint"] == stored.current.fingerprint
        assert installation.custody.fingerprint() == stored.current.fingerprint
        assert installation.vault.verify_all() == []
        for label in labels:
            _, material = installation.vault.open(label)
            assert material.secret.reveal() == CANARY_SECRET
        assert installation.verify_audit().ok
    finally:
        installation.close()


@pytest.fixture
def bound(installation: Installation, home: Home) -> MasterKey:
    """An installation with a key stored under its master key; returns that key."""
    installation.vault.add("main", "binance", Permission.READ_ONLY, MATERIAL)
    key = installation.custody.unlock()
    installation.close()
    return key


def test_missing_key_is_an_error_and_no_key_is_generated(
    bound: MasterKey, home: Home, reopen: Reopen
) -> None:
    home.master_key_file.unlink()
    installation = reopen()

    with pytest.raises(MasterKeyMissingError) as caught:
        installation.custody.unlock()
    with pytest.raises(MasterKeyMissingError):
        installation.vault.open("main")

    assert bound.fingerprint[:12] in str(caught.value)
    assert not home.master_key_file.exists()
    assert installation.custody.fingerprint() == bound.fingerprint
    assert [d["action"] for d in master_key_records(installation)] == ["created"]
    errors = installation.audit.records(EventType.ERROR.value)
    assert errors[-1].details["error"] == "MasterKeyMissingError"


def test_missing_key_on_the_command_line_generates_nothing(
    bound: MasterKey, home: Home, cli: CliRunner
) -> None:
    home.master_key_file.unlink()
    key = json.dumps({"api_key": "AKIAEXAMPLEKEY12345678", "secret": "other secret"})

    added = cli(
        "keys", "add", "--exchange", "binance", "--label", "new", "--stdin", stdin=key
    )
    rotated = cli("keys", "rotate-master")

    for outcome in (added, rotated):
        assert outcome.code == 1
        assert len(outcome.err.strip().splitlines()) == 1
        assert "has none" in outcome.err
    assert not home.master_key_file.exists()
    assert [r["label"] for r in json.loads(cli("keys", "list", "--json").out)] == [
        "main"
    ]


def test_a_different_key_is_a_mismatch_and_nothing_is_generated(
    bound: MasterKey,
    home: Home,
    tmp_path: Path,
    clock: FixedClock,
    reopen: Reopen,
) -> None:
    other_home = Home(tmp_path / "other-home")
    other = Installation.open(other_home, passphrase, clock, "tester")
    other_key = other.custody.unlock()
    other.close()
    shutil.copyfile(other_home.master_key_file, home.master_key_file)
    os.chmod(home.master_key_file, 0o600)
    swapped = home.master_key_file.read_bytes()
    installation = reopen()

    with pytest.raises(MasterKeyMismatchError) as caught:
        installation.custody.unlock()
    with pytest.raises(MasterKeyMismatchError):
        installation.vault.open("main")

    message = str(caught.value)
    assert other_key.fingerprint[:12] in message
    assert bound.fingerprint[:12] in message
    assert home.master_key_file.read_bytes() == swapped
    assert installation.custody.fingerprint() == bound.fingerprint
    assert [d["action"] for d in master_key_records(installation)] == ["created"]
    errors = installation.audit.records(EventType.ERROR.value)
    assert errors[-1].details["error"] == "MasterKeyMismatchError"


def test_a_different_key_on_the_command_line_exits_3(
    bound: MasterKey, home: Home, cli: CliRunner
) -> None:
    FileKeyStore(home.master_key_file, passphrase).save(
        StoredKeys(current=MasterKey.generate())
    )
    swapped = home.master_key_file.read_bytes()

    outcome = cli("keys", "verify")

    assert outcome.code == 3
    assert len(outcome.err.strip().splitlines()) == 1
    assert "not this database's" in outcome.err
    assert home.master_key_file.read_bytes() == swapped


def test_a_store_holding_only_an_unknown_pending_key_is_a_mismatch(
    bound: MasterKey, home: Home, reopen: Reopen
) -> None:
    stranger = MasterKey.generate()
    FileKeyStore(home.master_key_file, passphrase).save(
        StoredKeys(current=stranger, pending=MasterKey.generate())
    )
    installation = reopen()

    with pytest.raises(MasterKeyMismatchError):
        installation.custody.unlock()

    assert key_file_keys(home).current == stranger
    assert installation.custody.fingerprint() == bound.fingerprint


# Another process changed the key meanwhile ----------------------------------------


@pytest.fixture
def stale_and_rotated(
    bound: MasterKey, reopen: Reopen
) -> tuple[Installation, Installation]:
    """Two processes: the first unlocked the key, then the second rotated it."""
    stale, rotator = reopen(), reopen()
    assert stale.custody.unlock() == bound
    rotator.custody.rotate(rotator.vault.reencrypt_all)
    return stale, rotator


def assert_still_readable(reopen: Reopen) -> None:
    fresh = reopen()
    _, material = fresh.vault.open("main")
    assert material.secret.reveal() == CANARY_SECRET
    assert fresh.verify_audit().ok


def test_a_stale_process_cannot_rotate_over_a_newer_key(
    stale_and_rotated: tuple[Installation, Installation], reopen: Reopen
) -> None:
    stale, _ = stale_and_rotated

    with pytest.raises(VaultError, match="another process"):
        stale.custody.rotate(stale.vault.reencrypt_all)

    assert_still_readable(reopen)


def test_a_stale_process_cannot_rewrap_an_older_key(
    stale_and_rotated: tuple[Installation, Installation], reopen: Reopen, home: Home
) -> None:
    stale, rotator = stale_and_rotated

    with pytest.raises(VaultError, match="another process"):
        stale.custody.change_passphrase(SecretStr("a new passphrase, long enough"))

    assert key_file_keys(home).current == rotator.custody.unlock()
    assert_still_readable(reopen)


def test_a_stale_process_cannot_move_an_older_key(
    stale_and_rotated: tuple[Installation, Installation],
    reopen: Reopen,
    home: Home,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stale, rotator = stale_and_rotated
    moved_to: list[StoredKeys] = []

    class Recorder(FileKeyStore):
        def save(self, keys: StoredKeys) -> None:
            moved_to.append(keys)

        def load(self) -> StoredKeys:
            return moved_to[-1] if moved_to else StoredKeys()

    monkeypatch.setattr(
        stale.custody, "_open_store", lambda name: Recorder(home.root / "x", passphrase)
    )

    with pytest.raises(VaultError, match="another process"):
        stale.custody.move(StoreName.KEYRING)

    assert key_file_keys(home).current == rotator.custody.unlock()
    assert_still_readable(reopen)


def test_a_stale_process_cannot_save_under_a_replaced_passphrase(
    bound: MasterKey, reopen: Reopen, home: Home
) -> None:
    stale, changer = reopen(), reopen()
    stale.custody.unlock()
    new_passphrase = SecretStr("the passphrase chosen meanwhile")
    changer.custody.change_passphrase(new_passphrase)

    with pytest.raises(VaultError, match="another process"):
        stale.custody.rotate(stale.vault.reencrypt_all)

    stored = FileKeyStore(home.master_key_file, lambda new: new_passphrase).load()
    assert stored == StoredKeys(current=bound)
