"""The key file store: wrapping, file safety, hostile parameters, passphrases."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto_trader.audit.events import EventType
from crypto_trader.errors import (
    InputError,
    IntegrityError,
    UnsafeFileError,
    WrongPassphraseError,
)
from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import Permission
from crypto_trader.vault.key_stores import file_store
from crypto_trader.vault.key_stores.base import StoredKeys
from crypto_trader.vault.key_stores.file_store import FileKeyStore, ScryptParams
from crypto_trader.vault.master_key import MasterKey
from crypto_trader.vault.secrets import KeyMaterial, SecretStr
from tests.conftest import CANARY_SECRET, PASSPHRASE, FixedClock
from tests.support.cli import REPO_ROOT, CliRunner

WRONG_PASSPHRASE = "a wrong passphrase, also long"
NEW_PASSPHRASE = "a brand new passphrase for the file"
ADD_A = ("keys", "add", "--exchange", "binance", "--label", "a", "--stdin")


def source(passphrase: str) -> Callable[[bool], SecretStr]:
    return lambda new: SecretStr(passphrase)


def make_store(path: Path, passphrase: str = PASSPHRASE) -> FileKeyStore:
    return FileKeyStore(path, source(passphrase))


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    return folder / "master.key"


@pytest.fixture
def saved(key_path: Path) -> MasterKey:
    """A valid key file at `key_path` holding a fresh key."""
    key = MasterKey.generate()
    make_store(key_path).save(StoredKeys(current=key))
    return key


@pytest.fixture
def derivations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every scrypt derivation (by its log2 N) the store attempts."""
    calls: list[int] = []
    original = ScryptParams.derive

    def counting(self: ScryptParams, passphrase: SecretStr) -> bytes:
        calls.append(self.log2_n)
        return original(self, passphrase)

    monkeypatch.setattr(ScryptParams, "derive", counting)
    return calls


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Records every Path.read_bytes call, to prove a refused file was not read."""
    calls: list[Path] = []
    original = Path.read_bytes

    def recording(self: Path) -> bytes:
        calls.append(self)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", recording)
    return calls


def rewrite(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_bytes())
    change(document)
    write_raw(path, json.dumps(document).encode())


def write_raw(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


# Round trip ---------------------------------------------------------------------


def test_round_trip_current_and_pending(key_path: Path) -> None:
    current, pending = MasterKey.generate(), MasterKey.generate()
    make_store(key_path).save(StoredKeys(current=current, pending=pending))

    loaded = make_store(key_path).load()

    assert loaded == StoredKeys(current=current, pending=pending)
    assert key_path.stat().st_mode & 0o777 == 0o600
    raw = key_path.read_bytes()
    for key in (current, pending):
        assert key.to_text().encode() not in raw
        assert base64.urlsafe_b64decode(key.to_text()) not in raw


def test_file_is_0600_whatever_the_umask(key_path: Path) -> None:
    old = os.umask(0)
    try:
        make_store(key_path).save(StoredKeys(current=MasterKey.generate()))
    finally:
        os.umask(old)

    assert key_path.stat().st_mode & 0o777 == 0o600


def test_new_files_use_the_floor_and_a_fresh_salt(tmp_path: Path) -> None:
    first, second = tmp_path / "a.key", tmp_path / "b.key"
    for path in (first, second):
        make_store(path).save(StoredKeys(current=MasterKey.generate()))

    kdf_a = json.loads(first.read_bytes())["kdf"]
    kdf_b = json.loads(second.read_bytes())["kdf"]
    assert kdf_a["log2_n"] == file_store.SCRYPT_MIN_LOG2_N
    assert (kdf_a["r"], kdf_a["p"]) == (8, 1)
    assert kdf_a["salt"] != kdf_b["salt"]


def test_load_of_a_missing_file_is_empty_and_asks_nothing(key_path: Path) -> None:
    asked: list[bool] = []

    def ask(new: bool) -> SecretStr:
        asked.append(new)
        return SecretStr(PASSPHRASE)

    assert FileKeyStore(key_path, ask).load() == StoredKeys()
    assert asked == []


# Wrong passphrase ---------------------------------------------------------------


def test_wrong_passphrase_is_a_clear_error(key_path: Path, saved: MasterKey) -> None:
    with pytest.raises(WrongPassphraseError) as caught:
        make_store(key_path, WRONG_PASSPHRASE).load()

    message = str(caught.value)
    assert "wrong passphrase" in message
    assert str(key_path) in message
    assert WRONG_PASSPHRASE not in message
    assert PASSPHRASE not in message


def test_wrong_passphrase_through_custody_is_audited_as_error(
    home: Home, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "file")
    first = Installation.open(home, source(PASSPHRASE), clock, "tester")
    first.custody.unlock()
    first.close()

    second = Installation.open(home, source(WRONG_PASSPHRASE), clock, "tester")
    try:
        with pytest.raises(WrongPassphraseError):
            second.custody.unlock()
        errors = second.audit.records(EventType.ERROR.value)
    finally:
        second.close()

    assert len(errors) == 1
    assert errors[0].details == {
        "operation": "unlock master key",
        "error": "WrongPassphraseError",
    }
    assert WRONG_PASSPHRASE not in json.dumps(errors[0].details)


def test_wrong_passphrase_on_the_command_line(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = json.dumps({"api_key": "AKIAEXAMPLEKEY12345678", "secret": CANARY_SECRET})
    added = cli(*ADD_A, stdin=key)
    assert added.code == 0, added.err
    monkeypatch.setenv("CRYPTO_TRADER_KEY_PASSPHRASE", WRONG_PASSPHRASE)

    outcome = cli("keys", "verify")

    assert outcome.code == 1
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: wrong passphrase")
    assert WRONG_PASSPHRASE not in outcome.err + outcome.out
    monkeypatch.setenv("CRYPTO_TRADER_KEY_PASSPHRASE", PASSPHRASE)
    shown = cli("audit", "show", "--type", "ERROR", "--json")
    assert json.loads(shown.out)[-1]["details"]["error"] == "WrongPassphraseError"


# Unsafe key files -------------------------------------------------------------------


def assert_refused_unread(
    path: Path, reads: list[Path], derivations: list[int], fix: str
) -> None:
    asked: list[bool] = []

    def ask(new: bool) -> SecretStr:
        asked.append(new)
        return SecretStr(PASSPHRASE)

    with pytest.raises(UnsafeFileError) as caught:
        FileKeyStore(path, ask).load()

    assert fix in str(caught.value)
    assert reads == []
    assert derivations == []
    assert asked == []


def test_symbolic_link_is_refused_unread(
    key_path: Path, reads: list[Path], derivations: list[int]
) -> None:
    real = key_path.with_name("real.key")
    make_store(real).save(StoredKeys(current=MasterKey.generate()))
    key_path.symlink_to(real)
    derivations.clear()

    assert_refused_unread(key_path, reads, derivations, "symbolic link")


def test_dangling_symbolic_link_is_refused_not_ignored(
    key_path: Path, reads: list[Path], derivations: list[int]
) -> None:
    key_path.symlink_to(key_path.with_name("nowhere.key"))

    assert_refused_unread(key_path, reads, derivations, "symbolic link")


def test_file_owned_by_someone_else_is_refused_unread(
    key_path: Path, saved: MasterKey, reads: list[Path], derivations: list[int]
) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    os.chown(key_path, 65534, 65534)

    assert_refused_unread(key_path, reads, derivations, f"chown {os.geteuid()}")


@pytest.mark.parametrize(
    "mode", [0o640, 0o604, 0o620, 0o602, 0o660, 0o666, 0o610], ids=lambda m: f"{m:04o}"
)
def test_file_open_to_others_is_refused_unread(
    key_path: Path,
    saved: MasterKey,
    reads: list[Path],
    derivations: list[int],
    mode: int,
) -> None:
    os.chmod(key_path, mode)

    assert_refused_unread(key_path, reads, derivations, "chmod 600")


def test_owner_only_read_only_file_is_accepted(
    key_path: Path, saved: MasterKey
) -> None:
    os.chmod(key_path, 0o400)

    assert make_store(key_path).load().current == saved


def test_a_directory_in_place_of_the_file_is_refused(key_path: Path) -> None:
    key_path.mkdir(mode=0o700)

    with pytest.raises(UnsafeFileError):
        make_store(key_path).load()


# Hostile key-derivation parameters -----------------------------------------------


def set_kdf(**values: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document["kdf"].update(values)

    return change


def drop(*path: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target = document
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return change


def replace_with(value: Any, *path: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target = document
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


HOSTILE_KDF = {
    "log2_n below the floor": set_kdf(log2_n=9),
    "log2_n zero": set_kdf(log2_n=0),
    "log2_n negative": set_kdf(log2_n=-1),
    "log2_n above the ceiling": set_kdf(log2_n=21),
    "log2_n 40": set_kdf(log2_n=40),
    "log2_n 2**36": set_kdf(log2_n=2**36),
    "log2_n 2**62": set_kdf(log2_n=2**62),
    "log2_n huge": set_kdf(log2_n=10**300),
    "r too small": set_kdf(r=7),
    "r zero": set_kdf(r=0),
    "r too large": set_kdf(r=17),
    "r huge": set_kdf(r=2**62),
    "p zero": set_kdf(p=0),
    "p too large": set_kdf(p=5),
    "p negative": set_kdf(p=-1),
    "memory over the bound": set_kdf(log2_n=20, r=16, p=4),
    "memory just over the bound": set_kdf(log2_n=20, r=9, p=1),
    "log2_n as text": set_kdf(log2_n="10"),
    "log2_n as float": set_kdf(log2_n=10.0),
    "log2_n as bool": set_kdf(log2_n=True),
    "log2_n null": set_kdf(log2_n=None),
    "log2_n list": set_kdf(log2_n=[10]),
    "r as text": set_kdf(r="8"),
    "p as float": set_kdf(p=1.0),
    "short salt": set_kdf(salt=base64.b64encode(b"x" * 15).decode()),
    "empty salt": set_kdf(salt=""),
    "salt not base64": set_kdf(salt="!!not base64!!"),
    "salt as number": set_kdf(salt=12345),
    "another kdf name": set_kdf(name="pbkdf2"),
    "missing kdf": drop("kdf"),
    "kdf not an object": replace_with("scrypt", "kdf"),
    "missing log2_n": drop("kdf", "log2_n"),
    "missing r": drop("kdf", "r"),
    "missing p": drop("kdf", "p"),
    "missing salt": drop("kdf", "salt"),
    "missing format": drop("format"),
    "another format": replace_with("something-else", "format"),
    "unknown version": replace_with(2, "version"),
    "version as text": replace_with("1", "version"),
}


@pytest.mark.parametrize("change", HOSTILE_KDF.values(), ids=HOSTILE_KDF.keys())
def test_hostile_parameters_fail_fast_without_derivation(
    key_path: Path,
    saved: MasterKey,
    derivations: list[int],
    change: Callable[[dict[str, Any]], None],
) -> None:
    rewrite(key_path, change)
    derivations.clear()

    started = time.perf_counter()
    with pytest.raises(IntegrityError) as caught:
        make_store(key_path).load()
    elapsed = time.perf_counter() - started

    assert derivations == []
    assert elapsed < 1.0
    assert str(key_path) in str(caught.value)


HOSTILE_BYTES = {
    "garbage": b"\x00\xff\xfe garbage \x80",
    "not json": b"master key: yes",
    "empty": b"",
    "json list": b"[1, 2, 3]",
    "json string": b'"crypto-trader-master-key"',
    "json null": b"null",
    "number with too many digits": b'{"format": 1' + b"0" * 5000 + b"}",
    "deeply nested": b"[" * 30_000 + b"]" * 30_000,
    "oversized": b'{"format": "crypto-trader-master-key", "pad": "'
    + b"a" * (file_store.MAX_FILE_BYTES + 1)
    + b'"}',
}


@pytest.mark.parametrize("data", HOSTILE_BYTES.values(), ids=HOSTILE_BYTES.keys())
def test_hostile_file_contents_are_integrity_errors(
    key_path: Path, derivations: list[int], data: bytes
) -> None:
    write_raw(key_path, data)

    started = time.perf_counter()
    with pytest.raises(IntegrityError):
        make_store(key_path).load()

    assert time.perf_counter() - started < 1.0
    assert derivations == []


def test_oversized_file_is_refused_before_it_is_read(
    key_path: Path, reads: list[Path]
) -> None:
    write_raw(key_path, b" " * (file_store.MAX_FILE_BYTES + 1))

    with pytest.raises(IntegrityError, match="too large"):
        make_store(key_path).load()
    assert reads == []


def test_parameters_at_the_bounds_are_accepted(
    key_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bound must not be so tight that a file written with the strongest
    # accepted parameters is refused: only its cost is bounded, not its validity.
    params = ScryptParams(file_store.SCRYPT_MAX_LOG2_N, 8, 1, b"s" * 16)
    params.check_bounds(key_path)
    monkeypatch.setattr(file_store, "SCRYPT_MIN_LOG2_N", 17)
    ScryptParams(17, 8, 1, b"s" * 16).check_bounds(key_path)


def test_the_real_floor_refuses_a_file_made_under_the_test_floor(
    key_path: Path, saved: MasterKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_store, "SCRYPT_MIN_LOG2_N", 17)

    with pytest.raises(IntegrityError, match="outside the accepted bounds"):
        make_store(key_path).load()


@pytest.mark.parametrize(
    "change",
    [
        drop("nonce"),
        drop("ciphertext"),
        replace_with("%%%", "nonce"),
        replace_with(17, "ciphertext"),
        replace_with(base64.b64encode(b"short").decode(), "nonce"),
    ],
    ids=["no nonce", "no ciphertext", "bad nonce", "ciphertext number", "short nonce"],
)
def test_broken_envelope_is_an_integrity_error(
    key_path: Path, saved: MasterKey, change: Callable[[dict[str, Any]], None]
) -> None:
    rewrite(key_path, change)

    with pytest.raises((IntegrityError, WrongPassphraseError)):
        make_store(key_path).load()


# Tampering ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        set_kdf(log2_n=11),
        set_kdf(r=9),
        set_kdf(p=2),
        set_kdf(salt=base64.b64encode(b"y" * 16).decode()),
    ],
    ids=["log2_n", "r", "p", "salt"],
)
def test_tampered_header_is_refused(
    key_path: Path, saved: MasterKey, change: Callable[[dict[str, Any]], None]
) -> None:
    rewrite(key_path, change)

    with pytest.raises(WrongPassphraseError, match="altered"):
        make_store(key_path).load()


def seal_by_hand(
    path: Path, plaintext: bytes, bound_kdf: dict[str, Any] | None = None
) -> None:
    """Write a key file the way the store does, optionally binding another header."""
    params = ScryptParams(10, 8, 1, b"s" * 16)
    wrapping_key = params.derive(SecretStr(PASSPHRASE))
    shown = {"format": file_store.FORMAT, "version": 1, "kdf": params.header()}
    bound = shown | {"kdf": params.header() | (bound_kdf or {})}
    aad = json.dumps(bound, sort_keys=True, separators=(",", ":")).encode()
    nonce = os.urandom(12)
    sealed = AESGCM(wrapping_key).encrypt(nonce, plaintext, aad)
    document = shown | {
        "nonce": base64.b64encode(nonce).decode(),
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    write_raw(path, json.dumps(document).encode())


def payload_of(key: MasterKey) -> bytes:
    return json.dumps({"current": key.to_text(), "pending": None}).encode()


def test_a_file_sealed_by_hand_opens(key_path: Path) -> None:
    # The control for the two tests below: the hand-made file is a valid one.
    key = MasterKey.generate()
    seal_by_hand(key_path, payload_of(key))

    assert make_store(key_path).load() == StoredKeys(current=key)


def test_ciphertext_sealed_under_another_header_is_refused(key_path: Path) -> None:
    # Same passphrase, same wrapping key, but the header the file shows is not the
    # one bound as associated data: only the AAD check can catch this.
    seal_by_hand(key_path, payload_of(MasterKey.generate()), {"log2_n": 11})

    with pytest.raises(WrongPassphraseError):
        make_store(key_path).load()


def test_non_json_payload_under_the_right_key_is_an_integrity_error(
    key_path: Path,
) -> None:
    seal_by_hand(key_path, b"\xffnot json")

    with pytest.raises(IntegrityError):
        make_store(key_path).load()


def test_flipped_ciphertext_byte_is_refused(key_path: Path, saved: MasterKey) -> None:
    def flip(document: dict[str, Any]) -> None:
        sealed = bytearray(base64.b64decode(document["ciphertext"]))
        sealed[0] ^= 1
        document["ciphertext"] = base64.b64encode(bytes(sealed)).decode()

    rewrite(key_path, flip)

    with pytest.raises(WrongPassphraseError):
        make_store(key_path).load()


# Passphrases ---------------------------------------------------------------------


def test_short_passphrase_is_refused_and_nothing_written(key_path: Path) -> None:
    short = "x" * (file_store.MIN_PASSPHRASE_LENGTH - 1)

    with pytest.raises(InputError, match="at least 12 characters") as caught:
        make_store(key_path, short).save(StoredKeys(current=MasterKey.generate()))

    assert short not in str(caught.value)
    assert not os.path.lexists(key_path)


def test_passphrase_of_exactly_the_minimum_is_accepted(key_path: Path) -> None:
    exact = "y" * file_store.MIN_PASSPHRASE_LENGTH
    key = MasterKey.generate()
    make_store(key_path, exact).save(StoredKeys(current=key))

    assert make_store(key_path, exact).load().current == key


def test_the_floor_cannot_be_lowered_from_outside_the_process(
    key_path: Path, saved: MasterKey
) -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "PYTHONSTARTUP")
    }
    for name in (
        "CRYPTO_TRADER_SCRYPT_MIN_LOG2_N",
        "CRYPTO_TRADER_KDF_MIN_LOG2_N",
        "CRYPTO_TRADER_SCRYPT_LOG2_N",
        "CRYPTO_TRADER_KDF_FLOOR",
        "SCRYPT_MIN_LOG2_N",
    ):
        env[name] = "10"
    env["CRYPTO_TRADER_TEST_HOOKS"] = "1"
    env["CRYPTO_TRADER_ENV"] = "development"
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from crypto_trader.errors import IntegrityError\n"
        "from crypto_trader.vault.key_stores import file_store as fs\n"
        "from crypto_trader.vault.secrets import SecretStr\n"
        "print(fs.SCRYPT_MIN_LOG2_N, fs.ScryptParams.fresh().log2_n)\n"
        "secret = SecretStr(sys.argv[2])\n"
        "store = fs.FileKeyStore(Path(sys.argv[1]), lambda new: secret)\n"
        "try:\n"
        "    store.load()\n"
        "except IntegrityError:\n"
        "    print('refused')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(key_path), PASSPHRASE],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["17", "17", "refused"]


# Changing the passphrase -----------------------------------------------------------


@pytest.fixture
def with_key(installation: Installation) -> Installation:
    material = KeyMaterial(
        SecretStr("AKIAEXAMPLEKEY12345678"), SecretStr(CANARY_SECRET)
    )
    installation.vault.add("main", "binance", Permission.READ_ONLY, material)
    return installation


def test_change_passphrase_rewraps_the_same_key(
    with_key: Installation, home: Home, clock: FixedClock
) -> None:
    before = with_key.custody.fingerprint()
    old_salt = json.loads(home.master_key_file.read_bytes())["kdf"]["salt"]

    with_key.custody.change_passphrase(SecretStr(NEW_PASSPHRASE))

    with pytest.raises(WrongPassphraseError):
        make_store(home.master_key_file, PASSPHRASE).load()
    stored = make_store(home.master_key_file, NEW_PASSPHRASE).load()
    assert stored.current is not None
    assert stored.pending is None
    assert stored.current.fingerprint == before
    assert json.loads(home.master_key_file.read_bytes())["kdf"]["salt"] != old_salt
    changed = with_key.audit.records(EventType.MASTER_KEY_CHANGED.value)
    assert changed[-1].details == {
        "action": "passphrase_changed",
        "store": "file",
        "fingerprint": before,
    }
    assert with_key.verify_audit().ok
    with_key.close()
    reopened = Installation.open(home, source(NEW_PASSPHRASE), clock, "tester")
    try:
        _, material = reopened.vault.open("main")
        assert material.secret.reveal() == CANARY_SECRET
        assert reopened.verify_audit().ok
    finally:
        reopened.close()


def test_change_to_a_short_passphrase_is_refused_and_changes_nothing(
    with_key: Installation, home: Home
) -> None:
    before = home.master_key_file.read_bytes()
    records = len(with_key.audit.records())

    with pytest.raises(InputError):
        with_key.custody.change_passphrase(SecretStr("short"))

    assert home.master_key_file.read_bytes() == before
    assert len(with_key.audit.records()) == records
    assert make_store(home.master_key_file).load().current is not None
