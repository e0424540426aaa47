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
    ├── ExchangeError            an exchange request failed
    │   ├── ExchangeAuthenticationError  the exchange refused the key or signature
    │   ├── ExchangePermissionError  the exchange says this key may not do that
    │   ├── RateLimitedError     too many requests (reads are retried first)
    │   ├── ExchangeNetworkError network trouble (reads are retried first)
    │   │   └── OrderOutcomeUnknownError  an order request got no answer
    │   ├── ExchangeUnavailableError  the exchange is down or in maintenance
    │   ├── InsufficientFundsError  the account lacks the funds for the order
    │   └── InvalidOrderError    the exchange or the market's rules refuse the order
    └── SecurityRefusalError     refused by a security rule or integrity check (3)
        ├── PermissionDeniedError  a trade with a read-only key, or unknown level
        ├── IntegrityError       a record, the chain or a ciphertext failed checks
        │   └── MasterKeyMismatchError  the store's key is not the database's
        ├── UnsafeFileError      a key file is a link, not ours, or open to others
        ├── InsecureTransportError  plain HTTP, or certificate checks turned off
        ├── TlsVerificationError a server's certificate failed verification
        └── ForbiddenRequestError  withdrawals and transfers are never sent

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


class ExchangeError(CryptoTraderError):
    """Raised when a request to an exchange fails."""


class ExchangeAuthenticationError(ExchangeError):
    """Raised when the exchange refuses the key or its signature."""


class ExchangePermissionError(ExchangeError):
    """Raised when the exchange says the key is not allowed to do this."""


class RateLimitedError(ExchangeError):
    """Raised when the exchange keeps refusing for too many requests."""


class ExchangeNetworkError(ExchangeError):
    """Raised when the exchange cannot be reached or does not answer."""


class OrderOutcomeUnknownError(ExchangeNetworkError):
    """Raised when an order request got no answer and a lookup could not settle it."""


class ExchangeUnavailableError(ExchangeError):
    """Raised when the exchange is down or in maintenance."""


class InsufficientFundsError(ExchangeError):
    """Raised when the account lacks the funds for an order."""


class InvalidOrderError(ExchangeError):
    """Raised when an order breaks the market's rules or the exchange refuses it."""


class InsecureTransportError(SecurityRefusalError):
    """Raised when a request would go over plain HTTP or without certificate checks."""


class TlsVerificationError(SecurityRefusalError):
    """Raised when a server's certificate fails verification; never retried."""


class ForbiddenRequestError(SecurityRefusalError):
    """Raised for withdrawals and transfers, which are never sent for any key."""
