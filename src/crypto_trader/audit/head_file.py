"""The audit chain's head: outside the database, authenticated by the master key.

The head pins the newest record's sequence number and hash, so removing records from
the end of the chain (which leaves a valid shorter chain) is detected. While a record
is being committed the head also names it as pending: a crash between the two writes
leaves a head that accepts either ending.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from crypto_trader.canonical import canonical_json
from crypto_trader.errors import IntegrityError
from crypto_trader.secure_fs import check_private_file, write_private_atomic
from crypto_trader.vault.master_key import MasterKey

HEAD_PURPOSE = b"crypto-trader audit head v1"
MAX_HEAD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The newest anchored record, and the one being committed, if any."""

    seq: int
    hash: str
    key_fingerprint: str
    pending_seq: int | None = None
    pending_hash: str | None = None

    def signed_body(self) -> bytes:
        """The bytes the MAC covers."""
        return canonical_json(asdict(self)).encode("ascii")


def write_head(path: Path, head: AuditHead, key: MasterKey) -> None:
    """Sign `head` with `key` and replace the head file atomically."""
    if head.key_fingerprint != key.fingerprint:
        raise ValueError("the head names another key than the one signing it")
    document = asdict(head) | {"mac": key.mac(HEAD_PURPOSE, head.signed_body())}
    write_private_atomic(path, json.dumps(document).encode("ascii"))


def read_head(path: Path) -> tuple[AuditHead, str] | None:
    """Read the head and its MAC without checking it; None when there is no file."""
    if not path.exists() and not path.is_symlink():
        return None
    info = check_private_file(path)
    if info.st_size > MAX_HEAD_BYTES:
        raise IntegrityError(f"{path} is not a valid audit head")
    try:
        document = json.loads(path.read_bytes())
        mac = document.pop("mac")
        head = AuditHead(**document)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        raise IntegrityError(f"{path} is not a valid audit head") from None
    if not isinstance(mac, str) or type(head.seq) is not int:
        raise IntegrityError(f"{path} is not a valid audit head")
    return head, mac


def head_is_authentic(head: AuditHead, mac: str, key: MasterKey) -> bool:
    """Whether `mac` is `key`'s signature over `head`."""
    expected = key.mac(HEAD_PURPOSE, head.signed_body())
    return hmac.compare_digest(expected, mac)
