"""The contract every master key store keeps."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from crypto_trader.vault.master_key import MasterKey


@dataclass(frozen=True, slots=True)
class StoredKeys:
    """What a store holds: the current key and, during a rotation, the next one."""

    current: MasterKey | None = None
    pending: MasterKey | None = None


class KeyStore(ABC):
    """A place that keeps the master key for one home."""

    name: str
    can_save: bool = True

    @abstractmethod
    def describe(self) -> str:
        """Say which backend this is, for the security report."""

    @abstractmethod
    def load(self) -> StoredKeys:
        """Read the keys; raise VaultError when the store cannot be read."""

    @abstractmethod
    def save(self, keys: StoredKeys) -> None:
        """Replace what the store holds with `keys`."""

    @abstractmethod
    def erase(self) -> None:
        """Remove every key this store holds for the home."""

    def development_only(self) -> bool:
        """Whether this store is meant for development only."""
        return False
