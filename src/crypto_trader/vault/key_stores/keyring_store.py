"""The OS keyring store: Secret Service, macOS Keychain, Windows Credential Manager."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from crypto_trader.errors import ConfigurationError, VaultError, VaultLockedError
from crypto_trader.vault.key_stores.base import KeyStore, StoredKeys
from crypto_trader.vault.master_key import MasterKey

SERVICE = "crypto-trader"

# Backends that keep secrets in the operating system's own protected store.
REAL_BACKENDS = frozenset(
    {
        "keyring.backends.SecretService.Keyring",
        "keyring.backends.kwallet.DBusKeyring",
        "keyring.backends.kwallet.DBusKeyringKWallet4",
        "keyring.backends.macOS.Keyring",
        "keyring.backends.Windows.WinVaultKeyring",
    }
)

NO_BACKEND_HELP = (
    "no usable OS keyring ({found}); on Linux install and unlock GNOME Keyring "
    "(Debian: apt install gnome-keyring libsecret-1-0) or KWallet, or choose "
    "the passphrase-protected key file: CRYPTO_TRADER_KEY_STORE=file"
)


def _qualified_name(backend: object) -> str:
    kind = type(backend)
    return f"{kind.__module__}.{kind.__qualname__}"


def find_real_backend() -> tuple[Any | None, str]:
    """Return the configured OS keyring backend, or None and what was found instead."""
    import keyring
    import keyring.errors

    try:
        configured = keyring.get_keyring()
    except keyring.errors.KeyringError as exc:
        return None, f"keyring failed to load: {type(exc).__name__}"
    candidates = list(getattr(configured, "backends", None) or [configured])
    for backend in candidates:
        if _qualified_name(backend) in REAL_BACKENDS:
            return backend, _qualified_name(backend)
    return None, ", ".join(_qualified_name(b) for b in candidates) or "none"


class KeyringKeyStore(KeyStore):
    """Keeps the master key in the OS keyring, one entry per home."""

    name = "keyring"

    def __init__(self, install_id: str) -> None:
        backend, found = find_real_backend()
        if backend is None:
            raise ConfigurationError(NO_BACKEND_HELP.format(found=found))
        self._backend = backend
        self._found = found
        self._current = f"{install_id}/master-key"
        self._pending = f"{install_id}/master-key-pending"

    def describe(self) -> str:
        return self._found

    def entry_names(self) -> tuple[str, str]:
        """The keyring usernames (under service `crypto-trader`) for this home."""
        return self._current, self._pending

    def load(self) -> StoredKeys:
        current = self._get(self._current)
        pending = self._get(self._pending)
        return StoredKeys(
            current=None
            if current is None
            else MasterKey.from_text(current, "keyring"),
            pending=None
            if pending is None
            else MasterKey.from_text(pending, "keyring"),
        )

    def save(self, keys: StoredKeys) -> None:
        # Pending first, current next, stale pending last: a crash in between always
        # leaves a state that recovery resolves.
        if keys.pending is not None:
            self._set(self._pending, keys.pending.to_text())
        if keys.current is not None:
            self._set(self._current, keys.current.to_text())
        if keys.pending is None:
            self._delete(self._pending)
        if keys.current is None:
            self._delete(self._current)

    def erase(self) -> None:
        self.save(StoredKeys())

    def _get(self, username: str) -> str | None:
        with _translated_errors():
            value = self._backend.get_password(SERVICE, username)
        return None if value is None else str(value)

    def _set(self, username: str, value: str) -> None:
        with _translated_errors():
            self._backend.set_password(SERVICE, username, value)

    def _delete(self, username: str) -> None:
        import keyring.errors

        if self._get(username) is None:
            return
        with _translated_errors():
            try:
                self._backend.delete_password(SERVICE, username)
            except keyring.errors.PasswordDeleteError:
                return


@contextlib.contextmanager
def _translated_errors() -> Iterator[None]:
    """Translate the keyring package's errors into the vault's."""
    import keyring.errors

    try:
        yield
    except keyring.errors.KeyringLocked as exc:
        raise VaultLockedError(
            "the OS keyring is locked; unlock it (log in to the desktop session "
            "or run gnome-keyring-daemon --unlock) and try again"
        ) from exc
    except keyring.errors.KeyringError as exc:
        raise VaultError(
            f"the OS keyring failed ({type(exc).__name__}); check that it is "
            "running and unlocked"
        ) from exc
