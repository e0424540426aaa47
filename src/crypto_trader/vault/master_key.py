"""The master key: a Fernet key, and the subkeys derived from it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto_trader.errors import InputError

_FINGERPRINT_INFO = b"crypto-trader master-key fingerprint v1"


class MasterKey:
    """A 32-byte Fernet key; never printed, compared by fingerprint."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        if len(raw) != 32:
            raise ValueError("a master key is 32 bytes")
        self._raw = raw

    @classmethod
    def generate(cls) -> MasterKey:
        """Make a new random key."""
        return cls(base64.urlsafe_b64decode(Fernet.generate_key()))

    @classmethod
    def from_text(cls, text: str, source: str) -> MasterKey:
        """Read the url-safe base64 form; `source` names where it came from."""
        try:
            raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raw = b""
        if len(raw) != 32:
            raise InputError(
                f"{source} is not a Fernet key (44 url-safe base64 characters); "
                'generate one with: python -c "from cryptography.fernet import '
                'Fernet; print(Fernet.generate_key().decode())"'
            )
        return cls(raw)

    def to_text(self) -> str:
        """The url-safe base64 form, for a key store; never for display."""
        return base64.urlsafe_b64encode(self._raw).decode("ascii")

    def fernet(self) -> Fernet:
        """A Fernet instance under this key."""
        return Fernet(base64.urlsafe_b64encode(self._raw))

    def derive(self, purpose: bytes, length: int = 32) -> bytes:
        """A subkey for one purpose, independent of the encryption key (HKDF-SHA256)."""
        return HKDF(
            algorithm=hashes.SHA256(), length=length, salt=None, info=purpose
        ).derive(self._raw)

    @property
    def fingerprint(self) -> str:
        """A public identifier of the key that reveals nothing about it."""
        return self.derive(_FINGERPRINT_INFO, 16).hex()

    def mac(self, purpose: bytes, message: bytes) -> str:
        """HMAC-SHA256 of `message` under the subkey for `purpose`, hex."""
        return hmac.new(self.derive(purpose), message, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "MasterKey(********)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MasterKey):
            return NotImplemented
        return hmac.compare_digest(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("master keys are not pickled")
