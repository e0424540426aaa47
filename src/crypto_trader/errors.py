"""The project's errors, grouped by who has to act.

    CryptoTraderError            the root; exit status 1 unless a branch says otherwise
    ├── InputError               a bad value from the user; names input and fix (2)
    ├── NotFoundError            the named key, setting or record does not exist
    ├── ConfigurationError       the environment or a setting must change first
    ├── VaultError               the master key cannot be had
    │   ├── VaultLockedError     the store is locked, or a passphrase is missing
    │   ├── WrongPassphraseError the key file's passphrase is wrong
    │   └── MasterKeyMissingError  the store has no key, the database needs one
    ├── AuditWriteError          an audit record could not be written: nothing done
    └── SecurityRefusalError     refused by a security rule or integrity check (3)
        ├── PermissionDeniedError  a trade with a read-only key, or unknown level
        ├── IntegrityError       a record, the chain or a ciphertext failed checks
        │   └── MasterKeyMismatchError  the store's key is not the database's
        └── UnsafeFileError      a key file is a link, not ours, or open to others

Messages never carry secrets. Decryption failures say nothing about why; input
errors say exactly what to fix.
"""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3


class CryptoTraderError(Exception):
    """Root of every error the program raises on purpose."""

    exit_code = EXIT_FAILURE


class InputError(CryptoTraderError):
    """Raised when a value given by the user is invalid; the message names the fix."""

    exit_code = EXIT_USAGE


class NotFoundError(CryptoTraderError):
    """Raised when a named key, setting or record does not exist."""


class ConfigurationError(CryptoTraderError):
    """Raised when the environment or a setting must change before this can work."""


class VaultError(CryptoTraderError):
    """Raised when the master key cannot be obtained."""


class VaultLockedError(VaultError):
    """Raised when the key store is locked or a passphrase is needed and absent."""


class WrongPassphraseError(VaultError):
    """Raised when the key file's passphrase does not open it."""


class MasterKeyMissingError(VaultError):
    """Raised when the database needs a master key that the store does not hold."""


class AuditWriteError(CryptoTraderError):
    """Raised when an audit record cannot be written; the operation was not done."""


class SecurityRefusalError(CryptoTraderError):
    """Raised when a security rule or an integrity check refuses the operation."""

    exit_code = EXIT_REFUSED


class PermissionDeniedError(SecurityRefusalError):
    """Raised when a key's permission level does not allow the request."""


class IntegrityError(SecurityRefusalError):
    """Raised when stored data fails verification."""


class MasterKeyMismatchError(IntegrityError):
    """Raised when the key store holds a different master key than the database's."""


class UnsafeFileError(SecurityRefusalError):
    """Raised when a secret-bearing file has unsafe ownership, mode or type."""
