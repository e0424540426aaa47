"""One contract every master key store keeps, and the keyring store's own promises.

The keyring runs for real: a private D-Bus session with an unlocked gnome-keyring,
started once for this module, checked from outside through `secret-tool`.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import keyring.backend
import keyring.core
import pytest

from crypto_trader.audit.events import EventType
from crypto_trader.errors import ConfigurationError, VaultLockedError
from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.vault.custody import STORE_META
from crypto_trader.vault.key_record import Permission
from crypto_trader.vault.key_stores.base import KeyStore, StoredKeys
from crypto_trader.vault.key_stores.env_store import EnvKeyStore
from crypto_trader.vault.key_stores.file_store import FileKeyStore
from crypto_trader.vault.key_stores.keyring_store import SERVICE, KeyringKeyStore
from crypto_trader.vault.master_key import MasterKey
from crypto_trader.vault.secrets import KeyMaterial, SecretStr
from crypto_trader.vault.store_choice import StoreName, detect_store
from tests.conftest import CANARY_SECRET, PASSPHRASE, FixedClock
from tests.support.cli import CliRunner
from tests.support.secret_service import (
    SecretServiceSession,
    keyring_connection_leak_collected,
    private_secret_service,
    require_or_skip,
    secret_service_available,
)

MATERIAL = KeyMaterial(SecretStr("AKIAEXAMPLEKEY12345678"), SecretStr(CANARY_SECRET))


def passphrase(new: bool) -> SecretStr:
    return SecretStr(PASSPHRASE)


@pytest.fixture(scope="module")
def secret_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SecretServiceSession]:
    """One private Secret Service for the whole module."""
    reason = secret_service_available()
    if reason is not None:
        require_or_skip(reason)
    with private_secret_service(tmp_path_factory.mktemp("ss")) as session:
        yield session


def forget_backends() -> None:
    """Make python-keyring look for viable backends again.

    It remembers the first answer for the life of the process; a test that points
    it at another bus must not inherit that answer, nor leave its own behind.
    """
    keyring.backend.get_all_keyring.reset()  # type: ignore[attr-defined]
    keyring.core.init_backend()


@pytest.fixture
def keyring_session(
    secret_service: SecretServiceSession, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SecretServiceSession]:
    """Point this process (and python-keyring) at the private Secret Service."""
    for name, value in secret_service.env.items():
        monkeypatch.setenv(name, value)
    forget_backends()
    yield secret_service
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS")
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    forget_backends()


# The contract -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Harness:
    """How to make a store, and how to put keys in it from outside the contract."""

    name: str
    make: Callable[[], KeyStore]
    provision: Callable[[StoredKeys], None]


def build_harness(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    if name == "file":
        path = tmp_path / "master.key"

        def make_file() -> KeyStore:
            return FileKeyStore(path, passphrase)

        return Harness(name, make_file, lambda keys: make_file().save(keys))
    if name == "keyring":
        request.getfixturevalue("keyring_session")
        install_id = uuid.uuid4().hex

        def make_keyring() -> KeyStore:
            return KeyringKeyStore(install_id)

        return Harness(name, make_keyring, lambda keys: make_keyring().save(keys))
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("CRYPTO_TRADER_ENV", "development")

    def provision_env(keys: StoredKeys) -> None:
        assert keys.pending is None, "the env store holds no pending key"
        assert keys.current is not None
        monkeypatch.setenv("CRYPTO_TRADER_MASTER_KEY", keys.current.to_text())

    return Harness(name, EnvKeyStore, provision_env)


@pytest.fixture(params=["file", "keyring", "env"])
def readable(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    return build_harness(request.param, request, tmp_path)


@pytest.fixture(params=["file", "keyring"])
def writable(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    return build_harness(request.param, request, tmp_path)


def test_load_of_an_empty_store_is_empty(readable: Harness) -> None:
    assert readable.make().load() == StoredKeys()


def test_load_returns_what_was_put_there(readable: Harness) -> None:
    key = MasterKey.generate()
    readable.provision(StoredKeys(current=key))

    assert readable.make().load() == StoredKeys(current=key)


def test_describe_names_the_backend_and_no_key(readable: Harness) -> None:
    key = MasterKey.generate()
    readable.provision(StoredKeys(current=key))
    store = readable.make()

    description = store.describe()

    assert description
    assert key.to_text() not in description
    assert store.name == readable.name


def test_save_then_load_current_and_pending(writable: Harness) -> None:
    current, pending = MasterKey.generate(), MasterKey.generate()
    writable.make().save(StoredKeys(current=current, pending=pending))

    assert writable.make().load() == StoredKeys(current=current, pending=pending)


def test_saving_without_pending_drops_the_pending_key(writable: Harness) -> None:
    current, pending = MasterKey.generate(), MasterKey.generate()
    store = writable.make()
    store.save(StoredKeys(current=current, pending=pending))

    store.save(StoredKeys(current=pending))

    assert writable.make().load() == StoredKeys(current=pending)


def test_pending_alone_is_kept(writable: Harness) -> None:
    pending = MasterKey.generate()
    writable.make().save(StoredKeys(pending=pending))

    assert writable.make().load() == StoredKeys(pending=pending)


def test_erase_removes_every_key_and_may_repeat(writable: Harness) -> None:
    store = writable.make()
    store.save(StoredKeys(current=MasterKey.generate(), pending=MasterKey.generate()))

    store.erase()
    store.erase()

    assert writable.make().load() == StoredKeys()


def test_saving_nothing_is_erasing(writable: Harness) -> None:
    store = writable.make()
    store.save(StoredKeys(current=MasterKey.generate()))

    store.save(StoredKeys())

    assert writable.make().load() == StoredKeys()


def test_a_writable_store_says_so(writable: Harness) -> None:
    store = writable.make()

    assert store.can_save
    assert not store.development_only()


def test_the_env_store_refuses_to_write(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_ENV", "development")
    monkeypatch.setenv("CRYPTO_TRADER_MASTER_KEY", MasterKey.generate().to_text())
    store = EnvKeyStore()

    assert not store.can_save
    assert store.development_only()
    for attempt in (lambda: store.save(StoredKeys()), store.erase):
        with pytest.raises(ConfigurationError, match="CRYPTO_TRADER_MASTER_KEY"):
            attempt()


# The keyring store ------------------------------------------------------------------


def open_on_keyring(home: Home, clock: FixedClock) -> Installation:
    return Installation.open(home, passphrase, clock, "tester")


@pytest.fixture
def on_keyring(
    keyring_session: SecretServiceSession,
    monkeypatch: pytest.MonkeyPatch,
    home: Home,
    clock: FixedClock,
) -> Iterator[Installation]:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "keyring")
    installation = open_on_keyring(home, clock)
    yield installation
    installation.close()


def entry_names(installation: Installation) -> tuple[str, str]:
    store = installation.custody.store
    assert isinstance(store, KeyringKeyStore)
    return store.entry_names()


def files_under(*roots: Path) -> bytes:
    return b"".join(
        path.read_bytes()
        for root in roots
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    )


def test_the_key_is_in_the_keyring_and_in_no_file(
    on_keyring: Installation,
    keyring_session: SecretServiceSession,
    home: Home,
    tmp_path: Path,
) -> None:
    on_keyring.vault.add("main", "binance", Permission.READ_ONLY, MATERIAL)
    key = on_keyring.custody.unlock()
    current, pending = entry_names(on_keyring)

    assert keyring_session.lookup(SERVICE, current) == key.to_text()
    assert keyring_session.lookup(SERVICE, pending) is None
    assert current.endswith("/master-key")
    assert on_keyring.db.get_meta(STORE_META) == "keyring"
    assert not home.master_key_file.exists()
    on_keyring.db.connection.execute("PRAGMA wal_checkpoint")
    everything = files_under(home.root, tmp_path, Path(keyring_session.env["HOME"]))
    assert everything
    assert key.to_text().encode() not in everything
    assert base64.urlsafe_b64decode(key.to_text()) not in everything


def test_auto_takes_a_real_keyring(keyring_session: SecretServiceSession) -> None:
    assert detect_store() is StoreName.KEYRING


def test_two_homes_never_share_or_overwrite_a_key(
    keyring_session: SecretServiceSession,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    clock: FixedClock,
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "keyring")
    first = open_on_keyring(Home(tmp_path / "one"), clock)
    second = open_on_keyring(Home(tmp_path / "two"), clock)
    try:
        first_key = first.custody.unlock()
        second_key = second.custody.unlock()
        first_entry, second_entry = entry_names(first)[0], entry_names(second)[0]

        assert first_key != second_key
        assert first_entry != second_entry
        assert keyring_session.lookup(SERVICE, first_entry) == first_key.to_text()
        assert keyring_session.lookup(SERVICE, second_entry) == second_key.to_text()
    finally:
        first.close()
        second.close()
    again = open_on_keyring(Home(tmp_path / "one"), clock)
    try:
        assert again.custody.unlock() == first_key
    finally:
        again.close()


@pytest.mark.parametrize(
    "backend", ["keyring.backends.null.Keyring", "keyring.backends.fail.Keyring"]
)
def test_a_refused_backend_says_what_to_do(
    keyring_session: SecretServiceSession,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
) -> None:
    # A real Secret Service is running, but the configured backend is not it.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend)
    keyring.core.init_backend()

    with pytest.raises(ConfigurationError) as caught:
        KeyringKeyStore(uuid.uuid4().hex)

    message = str(caught.value)
    assert backend.rsplit(".", 2)[-2] in message
    assert "apt install gnome-keyring" in message
    assert "CRYPTO_TRADER_KEY_STORE=file" in message
    assert detect_store() is StoreName.FILE


def test_a_refused_backend_on_the_command_line(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, home: Home
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "keyring")
    keyring.core.init_backend()

    outcome = cli(
        "keys",
        "add",
        "--exchange",
        "binance",
        "--label",
        "a",
        "--stdin",
        stdin='{"api_key": "AKIAEXAMPLEKEY12345678", "secret": "s3cret-value"}',
    )

    assert outcome.code == 1
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1
    assert "CRYPTO_TRADER_KEY_STORE=file" in lines[0]
    assert not home.master_key_file.exists()


def test_a_locked_keyring_is_a_clear_error(
    on_keyring: Installation,
    keyring_session: SecretServiceSession,
    home: Home,
    clock: FixedClock,
) -> None:
    on_keyring.vault.add("main", "binance", Permission.READ_ONLY, MATERIAL)
    on_keyring.close()
    keyring_session.lock()
    try:
        locked = open_on_keyring(home, clock)
        try:
            with (
                keyring_connection_leak_collected(),
                pytest.raises(VaultLockedError, match="keyring is locked"),
            ):
                locked.custody.unlock()
            errors = locked.audit.records(EventType.ERROR.value)
        finally:
            locked.close()
    finally:
        keyring_session.unlock()

    assert errors[-1].details["error"] == "VaultLockedError"
    unlocked = open_on_keyring(home, clock)
    try:
        _, material = unlocked.vault.open("main")
        assert material.secret.reveal() == CANARY_SECRET
    finally:
        unlocked.close()


def test_move_from_file_to_keyring_and_back(
    keyring_session: SecretServiceSession,
    monkeypatch: pytest.MonkeyPatch,
    home: Home,
    clock: FixedClock,
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "file")
    installation = open_on_keyring(home, clock)
    try:
        installation.vault.add("main", "binance", Permission.READ_ONLY, MATERIAL)
        key = installation.custody.unlock()

        installation.custody.move(StoreName.KEYRING)

        current, pending = entry_names(installation)
        assert keyring_session.lookup(SERVICE, current) == key.to_text()
        assert keyring_session.lookup(SERVICE, pending) is None
        assert not home.master_key_file.exists()
        assert installation.db.get_meta(STORE_META) == "keyring"
    finally:
        installation.close()
    monkeypatch.delenv("CRYPTO_TRADER_KEY_STORE")

    moved = open_on_keyring(home, clock)
    try:
        assert moved.custody.unlock() == key
        assert moved.custody.store_name is StoreName.KEYRING

        moved.custody.move(StoreName.FILE)

        assert keyring_session.lookup(SERVICE, current) is None
        assert FileKeyStore(home.master_key_file, passphrase).load() == StoredKeys(
            current=key
        )
        assert moved.verify_audit().ok
        moves = [
            r.details
            for r in moved.audit.records(EventType.MASTER_KEY_CHANGED.value)
            if r.details["action"] == "moved"
        ]
    finally:
        moved.close()

    assert moves == [
        {
            "action": "moved",
            "from": "file",
            "to": "keyring",
            "fingerprint": key.fingerprint,
        },
        {
            "action": "moved",
            "from": "keyring",
            "to": "file",
            "fingerprint": key.fingerprint,
        },
    ]
    back = open_on_keyring(home, clock)
    try:
        assert back.custody.store_name is StoreName.FILE
        _, material = back.vault.open("main")
        assert material.secret.reveal() == CANARY_SECRET
    finally:
        back.close()


def test_move_master_on_the_command_line(
    keyring_session: SecretServiceSession,
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    home: Home,
) -> None:
    added = cli(
        "keys",
        "add",
        "--exchange",
        "binance",
        "--label",
        "a",
        "--stdin",
        stdin='{"api_key": "AKIAEXAMPLEKEY12345678", "secret": "s3cret-value"}',
    )
    assert added.code == 0, added.err
    monkeypatch.delenv("CRYPTO_TRADER_KEY_STORE")

    to_keyring = cli("keys", "move-master", "--to", "keyring")
    again = cli("keys", "move-master", "--to", "keyring")
    to_env = cli("keys", "move-master", "--to", "env")

    assert to_keyring.code == 0, to_keyring.err
    assert not home.master_key_file.exists()
    assert again.code == 1
    assert "already in the keyring store" in again.err
    assert to_env.code == 2
    assert cli("keys", "verify").code == 0
    assert cli("audit", "verify").code == 0


def test_a_copy_left_by_an_interrupted_move_is_removed_by_moving_again(
    keyring_session: SecretServiceSession,
    monkeypatch: pytest.MonkeyPatch,
    home: Home,
    clock: FixedClock,
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "file")
    installation = open_on_keyring(home, clock)
    try:
        key = installation.custody.unlock()
        # A move killed after saving to the keyring, before anything else.
        leftover = KeyringKeyStore(installation.db.get_meta("install_id") or "")
        leftover.save(StoredKeys(current=key))
        current, _ = leftover.entry_names()
        assert keyring_session.lookup(SERVICE, current) == key.to_text()

        moved = installation.custody.move(StoreName.FILE)

        assert moved is False
        assert keyring_session.lookup(SERVICE, current) is None
        assert installation.custody.unlock() == key
        assert home.master_key_file.exists()
    finally:
        installation.close()
