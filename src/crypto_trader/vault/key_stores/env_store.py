"""The development-only store: the master key in CRYPTO_TRADER_MASTER_KEY."""

from __future__ import annotations

import logging
import os

from crypto_trader.errors import ConfigurationError
from crypto_trader.vault.key_stores.base import KeyStore, StoredKeys
from crypto_trader.vault.master_key import MasterKey

MASTER_KEY_VARIABLE = "CRYPTO_TRADER_MASTER_KEY"
ENV_VARIABLE = "CRYPTO_TRADER_ENV"

log = logging.getLogger(__name__)

WARNING = (
    f"using the master key from {MASTER_KEY_VARIABLE}: for development only; "
    "keep real exchange keys under the keyring or file store"
)


def development_mode() -> bool:
    """Whether CRYPTO_TRADER_ENV says this is a development machine."""
    return os.environ.get(ENV_VARIABLE, "").strip().lower() == "development"


def variable_is_set() -> bool:
    """Whether CRYPTO_TRADER_MASTER_KEY has a value."""
    return bool(os.environ.get(MASTER_KEY_VARIABLE, "").strip())


class EnvKeyStore(KeyStore):
    """Reads the master key from the environment; it cannot save one."""

    name = "env"
    can_save = False

    def __init__(self) -> None:
        if not development_mode():
            raise ConfigurationError(
                f"{MASTER_KEY_VARIABLE} is honoured only with "
                f"{ENV_VARIABLE}=development; use the keyring or file store instead "
                "(CRYPTO_TRADER_KEY_STORE=keyring|file)"
            )
        log.warning(WARNING)

    def describe(self) -> str:
        return f"environment variable {MASTER_KEY_VARIABLE} (development only)"

    def development_only(self) -> bool:
        return True

    def load(self) -> StoredKeys:
        text = os.environ.get(MASTER_KEY_VARIABLE, "")
        if not text.strip():
            return StoredKeys()
        return StoredKeys(current=MasterKey.from_text(text, MASTER_KEY_VARIABLE))

    def save(self, keys: StoredKeys) -> None:
        raise ConfigurationError(
            f"the env store cannot save a master key; set {MASTER_KEY_VARIABLE} to a "
            "Fernet key yourself, or move to a store that can: "
            "crypto-trader keys move-master --to keyring|file"
        )

    def erase(self) -> None:
        self.save(StoredKeys())
