"""One installation: its home, database, audit log, master key custody and vault."""

from __future__ import annotations

import os
import pwd
import uuid
from dataclasses import dataclass

from crypto_trader.audit.audit_log import AuditLog
from crypto_trader.audit.verification import ChainReport, verify_chain
from crypto_trader.clock import Clock, system_clock
from crypto_trader.home import Home
from crypto_trader.permissions import PermissionGate
from crypto_trader.settings import Settings
from crypto_trader.storage.database import Database
from crypto_trader.vault.custody import STORE_META, Custody
from crypto_trader.vault.key_stores.base import KeyStore
from crypto_trader.vault.key_stores.file_store import PassphraseSource
from crypto_trader.vault.key_vault import KeyVault
from crypto_trader.vault.store_choice import StoreName, choose_store_name, open_store

INSTALL_ID_META = "install_id"


def current_user() -> str:
    """The OS account running this process."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid:{os.geteuid()}"


@dataclass(slots=True)
class Installation:
    """Everything one home holds, wired together."""

    home: Home
    db: Database
    audit: AuditLog
    custody: Custody
    vault: KeyVault
    gate: PermissionGate
    settings: Settings
    clock: Clock = system_clock

    @classmethod
    def open(
        cls,
        home: Home,
        passphrase_source: PassphraseSource,
        clock: Clock = system_clock,
        user_id: str | None = None,
    ) -> Installation:
        """Create the home if needed and open everything in it."""
        home.ensure()
        db = Database(home.database)
        install_id = _install_id(db)
        custody_box: list[Custody] = []
        audit = AuditLog(
            db,
            home.audit_head,
            home.audit_lock,
            user_id or current_user(),
            clock,
            key_provider=lambda: custody_box[0].key if custody_box else None,
        )

        def opener(name: StoreName) -> KeyStore:
            return open_store(name, home, install_id, passphrase_source)

        custody = Custody(
            home,
            db,
            audit,
            opener,
            lambda: choose_store_name(db.get_meta(STORE_META)),
        )
        custody_box.append(custody)
        vault = KeyVault(audit, custody.unlock, clock)
        return cls(
            home,
            db,
            audit,
            custody,
            vault,
            PermissionGate(vault, audit),
            Settings(audit),
            clock,
        )

    def verify_audit(self) -> ChainReport:
        """Check the audit chain and its head with the master key(s) available."""
        keys = self.custody.known_keys()
        required = self.custody.fingerprint() is not None
        return verify_chain(self.db.connection, self.home.audit_head, keys, required)

    def close(self) -> None:
        """Close the database."""
        self.db.close()


def _install_id(db: Database) -> str:
    existing = db.get_meta(INSTALL_ID_META)
    if existing is not None:
        return existing
    with db.write() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)",
            (INSTALL_ID_META, uuid.uuid4().hex),
        )
    value = db.get_meta(INSTALL_ID_META)
    assert value is not None  # noqa: S101 - written just above
    return value
