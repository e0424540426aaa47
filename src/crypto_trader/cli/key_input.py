"""Reading key material from a hidden prompt or from standard input, never from argv."""

from __future__ import annotations

import json
import sys
from typing import Any

from crypto_trader.cli.context import ask_secret, interactive
from crypto_trader.errors import InputError
from crypto_trader.vault.secrets import KeyMaterial, SecretStr
from crypto_trader.vault.validation import MAX_MATERIAL_BYTES

STDIN_HELP = (
    'give one JSON object: {"api_key": ..., "secret": ..., "passphrase": ...} '
    '(passphrase optional) or a Coinbase CDP key file {"name": ..., "privateKey": ...}'
)


def read_material(from_stdin: bool) -> KeyMaterial:
    """Key material from stdin (`--stdin`) or from hidden prompts."""
    if from_stdin:
        return parse_material(sys.stdin.read(4 * MAX_MATERIAL_BYTES + 1))
    if not interactive():
        raise InputError("no terminal to prompt on; pipe the key in with --stdin")
    api_key = ask_secret("API key")
    secret = ask_secret("API secret")
    passphrase = ask_secret("API passphrase (empty if none)")
    return KeyMaterial(api_key, secret, passphrase if passphrase else None)


def parse_material(text: str) -> KeyMaterial:
    """Parse the `--stdin` JSON; errors name the problem and never echo a value."""
    if len(text) > 4 * MAX_MATERIAL_BYTES:
        raise InputError(f"standard input is too large for a key; {STDIN_HELP}")
    try:
        document: Any = json.loads(text)
    except (ValueError, RecursionError):
        raise InputError(f"standard input is not valid JSON; {STDIN_HELP}") from None
    if not isinstance(document, dict):
        raise InputError(f"standard input is not a JSON object; {STDIN_HELP}")
    fields: tuple[str, str, str | None] = ("api_key", "secret", "passphrase")
    if "privateKey" in document or "name" in document:
        fields = ("name", "privateKey", None)
    values = [_field(document, name, required=i < 2) for i, name in enumerate(fields)]
    api_key, secret, passphrase = values
    assert api_key is not None  # noqa: S101 - required above
    assert secret is not None  # noqa: S101 - required above
    return KeyMaterial(api_key, secret, passphrase)


def _field(
    document: dict[str, Any], name: str | None, required: bool
) -> SecretStr | None:
    if name is None:
        return None
    value = document.get(name)
    if value is None or value == "":
        if required:
            raise InputError(
                f"the JSON on standard input has no {name!r}; {STDIN_HELP}"
            )
        return None
    if not isinstance(value, str):
        raise InputError(f"{name!r} in the JSON on standard input must be a string")
    return SecretStr(value)
