"""The key file store: `master.key` in the home, wrapped with a passphrase (scrypt)."""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from crypto_trader.errors import (
    InputError,
    IntegrityError,
    MasterKeyMissingError,
    VaultError,
    WrongPassphraseError,
)
from crypto_trader.secure_fs import check_private_file, write_private_atomic
from crypto_trader.vault.key_stores.base import KeyStore, StoredKeys
from crypto_trader.vault.master_key import MasterKey
from crypto_trader.vault.secrets import SecretStr

FORMAT = "crypto-trader-master-key"
VERSION = 1
PASSPHRASE_VARIABLE = "CRYPTO_TRADER_KEY_PASSPHRASE"  # noqa: S105 - a name
MIN_PASSPHRASE_LENGTH = 12

# OWASP's minimum for scrypt is N = 2^17, r = 8, p = 1. Only test code lowers the
# floor, in its own process; nothing read from outside the process can.
SCRYPT_MIN_LOG2_N = 17
SCRYPT_MAX_LOG2_N = 20
SCRYPT_R_RANGE = (8, 16)
SCRYPT_P_RANGE = (1, 4)
SCRYPT_MAX_MEMORY = 1 << 30
SALT_BYTES = 16
MAX_FILE_BYTES = 64 * 1024

PassphraseSource = Callable[[bool], SecretStr]
"""Asks for the key file's passphrase; the flag says a new one is being chosen."""


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """The key-derivation settings stored in the file."""

    log2_n: int
    r: int
    p: int
    salt: bytes

    @classmethod
    def fresh(cls) -> ScryptParams:
        """Parameters for a new file: the current floor and a new salt."""
        return cls(SCRYPT_MIN_LOG2_N, 8, 1, os.urandom(SALT_BYTES))

    def check_bounds(self, path: Path) -> None:
        """Refuse parameters weaker than the floor or costlier than the ceiling."""
        # The ranges are checked before the memory is computed: a hostile log2_n
        # would otherwise make the shift itself fail or exhaust memory.
        if not (
            SCRYPT_MIN_LOG2_N <= self.log2_n <= SCRYPT_MAX_LOG2_N
            and SCRYPT_R_RANGE[0] <= self.r <= SCRYPT_R_RANGE[1]
            and SCRYPT_P_RANGE[0] <= self.p <= SCRYPT_P_RANGE[1]
            and 128 * (1 << self.log2_n) * self.r * self.p <= SCRYPT_MAX_MEMORY
            and len(self.salt) >= SALT_BYTES
        ):
            raise IntegrityError(
                f"{path} has key-derivation parameters outside the accepted bounds; "
                "restore the file from a backup"
            )

    def header(self) -> dict[str, Any]:
        """The parameters as stored, also bound to the ciphertext."""
        return {
            "name": "scrypt",
            "log2_n": self.log2_n,
            "r": self.r,
            "p": self.p,
            "salt": base64.b64encode(self.salt).decode("ascii"),
        }

    def derive(self, passphrase: SecretStr) -> bytes:
        """The wrapping key for `passphrase`."""
        kdf = Scrypt(salt=self.salt, length=32, n=1 << self.log2_n, r=self.r, p=self.p)
        return kdf.derive(passphrase.reveal().encode("utf-8"))


def check_new_passphrase(passphrase: SecretStr) -> None:
    """Refuse a passphrase too short to resist guessing."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise InputError(
            f"the passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters; "
            "choose a longer one"
        )


class FileKeyStore(KeyStore):
    """Keeps the master key in `master.key`, encrypted under a passphrase."""

    name = "file"

    def __init__(self, path: Path, passphrase_source: PassphraseSource) -> None:
        self.path = path
        self._ask = passphrase_source
        self._params: ScryptParams | None = None
        self._wrapping_key: bytes | None = None

    def describe(self) -> str:
        return f"passphrase-protected key file {self.path} (scrypt)"

    def exists(self) -> bool:
        """Whether the key file is there (a link counts, and is refused on read)."""
        return os.path.lexists(self.path)

    def load(self) -> StoredKeys:
        if not self.exists():
            return StoredKeys()
        document = self._read_document()
        params = _parse_params(document, self.path)
        params.check_bounds(self.path)
        wrapping_key = params.derive(self._ask(False))
        payload = _open(document, params, wrapping_key, self.path)
        self._params, self._wrapping_key = params, wrapping_key
        return _keys_from_payload(payload, self.path)

    def save(self, keys: StoredKeys) -> None:
        if keys.current is None and keys.pending is None:
            self.erase()
            return
        if self._params is None or self._wrapping_key is None:
            passphrase = self._ask(True)
            check_new_passphrase(passphrase)
            self._params = ScryptParams.fresh()
            self._wrapping_key = self._params.derive(passphrase)
        elif self._rewrapped_elsewhere(self._params):
            raise VaultError(
                f"{self.path} was re-wrapped by another process while this one was "
                "running; run the command again"
            )
        self._write(keys, self._params, self._wrapping_key)

    def rewrap(self, keys: StoredKeys, passphrase: SecretStr) -> None:
        """Write `keys` under a new passphrase and a new salt."""
        check_new_passphrase(passphrase)
        params = ScryptParams.fresh()
        wrapping_key = params.derive(passphrase)
        self._write(keys, params, wrapping_key)
        self._params, self._wrapping_key = params, wrapping_key

    def erase(self) -> None:
        if self.exists():
            self.path.unlink()

    def _rewrapped_elsewhere(self, params: ScryptParams) -> bool:
        """Whether the file now has another salt than the one this process read.

        Writing with the remembered wrapping key would silently bring back the
        passphrase another process just replaced.
        """
        if not self.exists():
            return False
        return _parse_params(self._read_document(), self.path) != params

    def _read_document(self) -> dict[str, Any]:
        info = check_private_file(self.path)
        if info.st_size > MAX_FILE_BYTES:
            raise IntegrityError(f"{self.path} is too large to be a key file")
        try:
            document = json.loads(self.path.read_bytes())
        except (ValueError, RecursionError):
            raise IntegrityError(f"{self.path} is not a valid key file") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise IntegrityError(f"{self.path} is not a valid key file")
        if document.get("version") != VERSION:
            raise IntegrityError(f"{self.path} has an unknown key file version")
        return document

    def _write(
        self, keys: StoredKeys, params: ScryptParams, wrapping_key: bytes
    ) -> None:
        payload = {
            "current": None if keys.current is None else keys.current.to_text(),
            "pending": None if keys.pending is None else keys.pending.to_text(),
        }
        header = {"format": FORMAT, "version": VERSION, "kdf": params.header()}
        nonce = os.urandom(12)
        sealed = AESGCM(wrapping_key).encrypt(
            nonce, json.dumps(payload).encode("utf-8"), _canonical(header)
        )
        document = header | {
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "ciphertext": base64.b64encode(sealed).decode("ascii"),
        }
        write_private_atomic(self.path, json.dumps(document, indent=2).encode("utf-8"))


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _parse_params(document: dict[str, Any], path: Path) -> ScryptParams:
    kdf = document.get("kdf")
    fields = ("log2_n", "r", "p")
    if (
        not isinstance(kdf, dict)
        or kdf.get("name") != "scrypt"
        or not all(type(kdf.get(name)) is int for name in fields)
        or not isinstance(kdf.get("salt"), str)
    ):
        raise IntegrityError(f"{path} has unreadable key-derivation parameters")
    try:
        salt = base64.b64decode(kdf["salt"], validate=True)
    except binascii.Error:
        raise IntegrityError(
            f"{path} has unreadable key-derivation parameters"
        ) from None
    return ScryptParams(kdf["log2_n"], kdf["r"], kdf["p"], salt)


def _open(
    document: dict[str, Any], params: ScryptParams, wrapping_key: bytes, path: Path
) -> dict[str, Any]:
    header = {"format": FORMAT, "version": VERSION, "kdf": params.header()}
    try:
        nonce = base64.b64decode(document["nonce"], validate=True)
        sealed = base64.b64decode(document["ciphertext"], validate=True)
        plain = AESGCM(wrapping_key).decrypt(nonce, sealed, _canonical(header))
    except InvalidTag:
        raise WrongPassphraseError(
            f"wrong passphrase for {path}, or the file was altered; try again"
        ) from None
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise IntegrityError(f"{path} is not a valid key file") from None
    try:
        payload = json.loads(plain)
    except ValueError:
        raise IntegrityError(f"{path} is not a valid key file") from None
    if not isinstance(payload, dict):
        raise IntegrityError(f"{path} is not a valid key file")
    return payload


def _keys_from_payload(payload: dict[str, Any], path: Path) -> StoredKeys:
    def key(slot: str) -> MasterKey | None:
        text = payload.get(slot)
        return None if text is None else MasterKey.from_text(str(text), str(path))

    keys = StoredKeys(current=key("current"), pending=key("pending"))
    if keys.current is None and keys.pending is None:
        raise MasterKeyMissingError(f"{path} holds no key")
    return keys
