"""Custody of the master key: first use, unlocking, rotation, moving, re-wrapping.

The database records the fingerprint of its master key and the store that keeps it,
so a missing or different key is an error and never a reason to make a new one. A
rotation puts the new key in the store as *pending* before the database changes;
whichever key the database names afterwards is the one recovery keeps, so a crash at
any moment leaves every secret readable, and the next start finishes the job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from crypto_trader.audit.audit_log import FINGERPRINT_META, AuditLog
from crypto_trader.audit.events import EventType
from crypto_trader.audit.head_file import head_is_authentic, read_head, write_head
from crypto_trader.errors import (
    ConfigurationError,
    CryptoTraderError,
    IntegrityError,
    MasterKeyMismatchError,
    MasterKeyMissingError,
    VaultError,
)
from crypto_trader.home import Home
from crypto_trader.secure_fs import exclusive_lock
from crypto_trader.storage.database import Database
from crypto_trader.vault.key_stores.base import KeyStore, StoredKeys
from crypto_trader.vault.key_stores.file_store import FileKeyStore
from crypto_trader.vault.master_key import MasterKey
from crypto_trader.vault.secrets import SecretStr
from crypto_trader.vault.store_choice import StoreName

log = logging.getLogger(__name__)

STORE_META = "master_key_store"
Reencrypt = Callable[[Any, MasterKey, MasterKey], int]
StoreOpener = Callable[[StoreName], KeyStore]


class Custody:
    """Obtains the master key for one home and changes it safely."""

    def __init__(
        self,
        home: Home,
        db: Database,
        audit: AuditLog,
        open_store: StoreOpener,
        store_name_source: Callable[[], StoreName],
    ) -> None:
        self.home = home
        self._db = db
        self._audit = audit
        self._open_store = open_store
        self._store_name_source = store_name_source
        self._store_name: StoreName | None = None
        self._store: KeyStore | None = None
        self.key: MasterKey | None = None
        self.pending: MasterKey | None = None

    @property
    def store_name(self) -> StoreName:
        """The name of the store in use, chosen on first need."""
        if self._store_name is None:
            self._store_name = self._store_name_source()
        return self._store_name

    @property
    def store(self) -> KeyStore:
        """The store in use, opened on first need."""
        if self._store is None:
            self._store = self._open_store(self.store_name)
        return self._store

    def fingerprint(self) -> str | None:
        """The fingerprint of the key the database belongs to, if it has one yet."""
        return self._db.get_meta(FINGERPRINT_META)

    def unlock(self, create: bool = True) -> MasterKey:
        """Return the master key, generating it on first use when `create` is set."""
        if self.key is not None:
            return self.key
        try:
            with exclusive_lock(self.home.custody_lock):
                self.key = self._unlock_locked(create)
        except VaultError as exc:
            self._audit.record_error(
                {"operation": "unlock master key", "error": type(exc).__name__}
            )
            raise
        except IntegrityError as exc:
            self._audit.record_error(
                {"operation": "unlock master key", "error": type(exc).__name__}
            )
            raise
        return self.key

    def known_keys(self) -> list[MasterKey]:
        """The keys that may have signed the audit head: current and pending."""
        if self.fingerprint() is None:
            return []
        key = self.unlock(create=False)
        return [k for k in (key, self.pending) if k is not None]

    def _unlock_locked(self, create: bool) -> MasterKey:
        expected = self.fingerprint()
        stored = self.store.load()
        if stored.pending is not None and expected is not None:
            stored = self._recover(stored, expected)
        current = stored.current
        if expected is None:
            if current is None:
                if not create:
                    raise MasterKeyMissingError(
                        "no master key yet; add a key first: crypto-trader keys add"
                    )
                current = MasterKey.generate()
                self.store.save(StoredKeys(current=current))
            self._bind(current)
            return current
        if current is None:
            raise MasterKeyMissingError(
                f"the database needs master key {expected[:12]}… but the "
                f"{self.store_name} store has none; restore the key (or its store) "
                "instead of starting over"
            )
        if current.fingerprint != expected:
            raise MasterKeyMismatchError(
                f"the {self.store_name} store holds master key "
                f"{current.fingerprint[:12]}…, not this database's {expected[:12]}…; "
                "point CRYPTO_TRADER_HOME or CRYPTO_TRADER_KEY_STORE at the right pair"
            )
        return current

    def _bind(self, key: MasterKey) -> None:
        details = {
            "action": "created",
            "store": self.store_name.value,
            "fingerprint": key.fingerprint,
        }
        with self._audit.recording(EventType.MASTER_KEY_CHANGED, details) as rec:
            Database.set_meta(rec.conn, FINGERPRINT_META, key.fingerprint)
            Database.set_meta(rec.conn, STORE_META, self.store_name.value)
            rec.signing_key = key

    def _recover(self, stored: StoredKeys, expected: str) -> StoredKeys:
        current, pending = stored.current, stored.pending
        assert pending is not None  # noqa: S101 - the caller checked
        if pending.fingerprint == expected:
            self._resign_head(current, pending)
            self._db.scrub()
            promoted = StoredKeys(current=pending)
            self.store.save(promoted)
            log.info("finished an interrupted master key rotation")
            return promoted
        if current is not None and current.fingerprint == expected:
            self._resign_head(pending, current)
            kept = StoredKeys(current=current)
            self.store.save(kept)
            log.info("rolled back an interrupted master key rotation")
            return kept
        return stored

    def _resign_head(self, old: MasterKey | None, new: MasterKey) -> None:
        """Move the audit head's signature from the dropped key to the kept one."""
        found = read_head(self.home.audit_head)
        if old is None or found is None:
            return
        head, mac = found
        if head.key_fingerprint != old.fingerprint or not head_is_authentic(
            head, mac, old
        ):
            return
        from dataclasses import replace

        write_head(
            self.home.audit_head, replace(head, key_fingerprint=new.fingerprint), new
        )

    def _check_unchanged(self, key: MasterKey) -> None:
        """Refuse to act on a key another process replaced since this one unlocked.

        Saving the stale key would overwrite the one the database now needs.
        """
        if self.fingerprint() != key.fingerprint:
            raise VaultError(
                "the master key was changed by another process while this one was "
                "running; run the command again"
            )

    def rotate(self, reencrypt: Reencrypt) -> int:
        """Re-encrypt every secret under a new key, then retire the old one."""
        old = self.unlock(create=False)
        if not self.store.can_save:
            self.store.save(StoredKeys())  # raises, saying what to do instead
        with exclusive_lock(self.home.custody_lock):
            self._check_unchanged(old)
            new = MasterKey.generate()
            self.store.save(StoredKeys(current=old, pending=new))
            details = {
                "action": "rotated",
                "store": self.store_name.value,
                "old_fingerprint": old.fingerprint,
                "fingerprint": new.fingerprint,
            }
            with self._audit.recording(EventType.MASTER_KEY_CHANGED, details) as rec:
                count = reencrypt(rec.conn, old, new)
                Database.set_meta(rec.conn, FINGERPRINT_META, new.fingerprint)
                rec.details["records"] = count
                rec.signing_key = new
            self.key = new
            self._recover(StoredKeys(current=old, pending=new), new.fingerprint)
        return count

    def move(self, target: StoreName) -> bool:
        """Move the master key to another store without re-encrypting anything.

        Returns False when the key was already there; a copy that an interrupted
        move left in the other store is then removed, so it never stays in both.
        """
        key = self.unlock(create=False)
        if target is self.store_name:
            if not self._erase_leftover():
                raise ConfigurationError(
                    f"the master key is already in the {target} store"
                )
            return False
        destination = self._open_store(target)
        if not destination.can_save:
            destination.save(StoredKeys())  # raises, saying what to do instead
        with exclusive_lock(self.home.custody_lock):
            self._check_unchanged(key)
            destination.save(StoredKeys(current=key))
            if destination.load().current != key:
                raise VaultError(
                    f"the {target} store did not keep the key; nothing moved"
                )
            details = {
                "action": "moved",
                "from": self.store_name.value,
                "to": target.value,
                "fingerprint": key.fingerprint,
            }
            with self._audit.recording(EventType.MASTER_KEY_CHANGED, details) as rec:
                Database.set_meta(rec.conn, STORE_META, target.value)
                rec.signing_key = key
            source = self.store
            self._store, self._store_name = destination, target
            if not source.can_save:
                # The env store is the user's own variable: only they can clear it.
                log.warning(
                    "the key is now in the %s store; remove it from the %s yourself",
                    target.value,
                    source.describe(),
                )
                return True
            try:
                source.erase()
            except CryptoTraderError:
                log.warning("the old %s store could not be cleared", source.name)
                raise
        return True

    def _erase_leftover(self) -> bool:
        """Remove a copy an interrupted move left behind; True if there was one."""
        other = {StoreName.KEYRING: StoreName.FILE, StoreName.FILE: StoreName.KEYRING}
        leftover_name = other.get(self.store_name)
        if leftover_name is None:
            return False
        if leftover_name is StoreName.FILE and not self.home.master_key_file.exists():
            return False
        try:
            leftover = self._open_store(leftover_name)
            if leftover_name is StoreName.KEYRING and leftover.load() == StoredKeys():
                return False
            with exclusive_lock(self.home.custody_lock):
                leftover.erase()
        except CryptoTraderError:
            return False
        log.info(
            "removed the copy of the master key left in the %s store", leftover_name
        )
        return True

    def change_passphrase(self, new_passphrase: SecretStr) -> None:
        """Re-wrap the key file under a new passphrase."""
        key = self.unlock(create=False)
        store = self.store
        if not isinstance(store, FileKeyStore):
            raise ConfigurationError(
                f"the master key is in the {self.store_name} store, which has no "
                "passphrase; only the file store does"
            )
        with exclusive_lock(self.home.custody_lock):
            self._check_unchanged(key)
            details = {
                "action": "passphrase_changed",
                "store": "file",
                "fingerprint": key.fingerprint,
            }
            with self._audit.recording(EventType.MASTER_KEY_CHANGED, details) as rec:
                rec.signing_key = key
                store.rewrap(StoredKeys(current=key), new_passphrase)
