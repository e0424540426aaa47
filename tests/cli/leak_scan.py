"""Looking for a canary secret in text and in raw file bytes, in any usual encoding."""

from __future__ import annotations

import base64
import re
from pathlib import Path

# Rich tables wrap long cells and draw borders; a canary split across lines must
# still be found, so those characters are removed before searching text.
_LAYOUT = re.compile(r"[\s│┃]")


def byte_forms(canary: str) -> list[bytes]:
    """The canary as raw bytes, hex, UTF-16 and base64 at every alignment."""
    raw = canary.encode("utf-8")
    forms = [raw, raw.hex().encode(), raw.hex().upper().encode()]
    forms.append(canary.encode("utf-16-le"))
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for shift in range(3):
            encoded = encode(b"\0" * shift + raw + b"\0\0")
            # Drop the groups that mix the canary with the padding around it.
            forms.append(encoded[4 if shift else 0 : -8])
    return forms


def text_leaks(text: str, canaries: list[str]) -> list[str]:
    """The canaries found in `text`, even when wrapped across table lines."""
    flat = _LAYOUT.sub("", text)
    return [c for c in canaries if c in text or c in flat]


def file_leaks(root: Path, canaries: list[str]) -> list[str]:
    """Every file under `root` (or `root` itself) holding a canary in any form."""
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*"))
    found = []
    for path in files:
        if not path.is_file():
            continue
        data = path.read_bytes()
        for canary in canaries:
            if any(form in data for form in byte_forms(canary)):
                found.append(f"{path}: {canary}")
    return found
