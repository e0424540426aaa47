"""Choosing the master key store: CRYPTO_TRADER_KEY_STORE, the recorded one, or auto."""

from __future__ import annotations

import os
from enum import StrEnum

from crypto_trader.errors import ConfigurationError, InputError
from crypto_trader.home import Home
from crypto_trader.vault.key_stores.base import KeyStore
from crypto_trader.vault.key_stores.env_store import (
    MASTER_KEY_VARIABLE,
    EnvKeyStore,
    development_mode,
    variable_is_set,
)
from crypto_trader.vault.key_stores.file_store import FileKeyStore, PassphraseSource
from crypto_trader.vault.key_stores.keyring_store import (
    NO_BACKEND_HELP,
    KeyringKeyStore,
    find_real_backend,
)

STORE_VARIABLE = "CRYPTO_TRADER_KEY_STORE"


class StoreName(StrEnum):
    """The master key stores."""

    KEYRING = "keyring"
    ENV = "env"
    FILE = "file"


def requested_store() -> StoreName | None:
    """What CRYPTO_TRADER_KEY_STORE asks for; None for `auto` or unset."""
    value = os.environ.get(STORE_VARIABLE, "auto").strip().lower() or "auto"
    if value == "auto":
        return None
    try:
        return StoreName(value)
    except ValueError:
        raise InputError(
            f"{STORE_VARIABLE}={value!r} is not a key store; "
            "use auto, keyring, env or file"
        ) from None


def detect_store() -> StoreName:
    """The `auto` rule: OS keyring, else the development variable, else the key file."""
    backend, _ = find_real_backend()
    if backend is not None:
        return StoreName.KEYRING
    if variable_is_set():
        if development_mode():
            return StoreName.ENV
        EnvKeyStore()  # raises, naming the variable and the fix
    return StoreName.FILE


def open_store(
    name: StoreName, home: Home, install_id: str, passphrase_source: PassphraseSource
) -> KeyStore:
    """Instantiate one store; a store that cannot work here says what to do."""
    if name is StoreName.KEYRING:
        return KeyringKeyStore(install_id)
    if name is StoreName.ENV:
        return EnvKeyStore()
    return FileKeyStore(home.master_key_file, passphrase_source)


def choose_store_name(recorded: str | None) -> StoreName:
    """The store to use for a home whose database recorded `recorded` (or nothing)."""
    requested = requested_store()
    if recorded is None:
        return requested or detect_store()
    stored = StoreName(recorded)
    if requested is not None and requested is not stored:
        # A key cannot be moved into the env store: it only reads the variable.
        move = (
            f", or move the key with: crypto-trader keys move-master --to {requested}"
        )
        if requested is StoreName.ENV:
            move = ""
        raise ConfigurationError(
            f"this home's master key is in the {stored} store but {STORE_VARIABLE} "
            f"asks for {requested}; unset {STORE_VARIABLE}{move}"
        )
    return stored


__all__ = [
    "MASTER_KEY_VARIABLE",
    "NO_BACKEND_HELP",
    "STORE_VARIABLE",
    "StoreName",
    "choose_store_name",
    "detect_store",
    "open_store",
]
