"""Checks on what a user gives the vault: labels, exchange ids, key material."""

from __future__ import annotations

import unicodedata

from crypto_trader.errors import InputError
from crypto_trader.vault.secrets import KeyMaterial

MAX_LABEL_CHARS = 64
MAX_MATERIAL_BYTES = 16 * 1024
# Invisible characters outside the C categories (Unicode's default-ignorable fillers
# and variation selectors): they would let "main" and a look-alike "main" coexist.
INVISIBLE_CODE_POINTS = frozenset(
    [
        *(0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F),
        *(0x3164, 0xFFA0, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)),
    ]
)


def normalize_label(label: str) -> str:
    """NFKC-normalise a label and check its length and characters."""
    normalized = unicodedata.normalize("NFKC", label).strip()
    if not 1 <= len(normalized) <= MAX_LABEL_CHARS:
        raise InputError(
            f"a label must be 1 to {MAX_LABEL_CHARS} characters, "
            f"got {len(normalized)}; "
            "choose a shorter name such as 'binance-main'"
        )
    if any(_invisible(ch) for ch in normalized):
        raise InputError(
            "a label cannot contain control or invisible characters; "
            "use letters, digits, spaces and punctuation"
        )
    return normalized


def _invisible(ch: str) -> bool:
    return unicodedata.category(ch).startswith("C") or ord(ch) in INVISIBLE_CODE_POINTS


def label_key(normalized: str) -> str:
    """The form that makes labels unique: look-alikes and case variants collide."""
    return normalized.casefold()


def check_material(material: KeyMaterial) -> KeyMaterial:
    """Refuse empty or oversized key material, without echoing any of it."""
    if not material.api_key or not material.secret:
        raise InputError("both the API key and the secret are required")
    parts = [material.api_key, material.secret, material.passphrase]
    size = sum(len(p.reveal().encode("utf-8")) for p in parts if p is not None)
    if size > MAX_MATERIAL_BYTES:
        raise InputError(
            f"the key material is {size} bytes, more than the {MAX_MATERIAL_BYTES} "
            "allowed; check that the right file was given"
        )
    return material
