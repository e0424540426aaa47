"""What every command shares: the home, the opened installation, input and output."""

from __future__ import annotations

import getpass
import json
import os
import sys
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from crypto_trader.diagnostic_log import set_file_level
from crypto_trader.errors import InputError, VaultLockedError
from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.vault.key_stores.file_store import PASSPHRASE_VARIABLE
from crypto_trader.vault.secrets import SecretStr

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)


def interactive() -> bool:
    """Whether a person is at the terminal to answer prompts."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def ask_secret(prompt: str) -> SecretStr:
    """Read a secret with hidden input from the terminal, never from arguments."""
    try:
        return SecretStr(getpass.getpass(f"{prompt}: ", stream=sys.stderr))
    except EOFError:
        raise InputError(f"no value given for {prompt.lower()}") from None


def passphrase_source(new: bool) -> SecretStr:
    """The key file's passphrase: CRYPTO_TRADER_KEY_PASSPHRASE, else a prompt."""
    from_env = os.environ.get(PASSPHRASE_VARIABLE)
    if from_env:
        return SecretStr(from_env)
    if not interactive():
        raise VaultLockedError(
            f"the master key file needs its passphrase: set {PASSPHRASE_VARIABLE} "
            "or run the command in a terminal"
        )
    if not new:
        return ask_secret("Passphrase for the master key file")
    first = ask_secret("New passphrase for the master key file")
    if ask_secret("Repeat the passphrase") != first:
        raise InputError("the two passphrases differ; run the command again")
    return first


@dataclass(slots=True)
class AppState:
    """The global options, and the installation opened on first need."""

    home: Home
    verbose: bool = False
    _installation: Installation | None = field(default=None)

    def open(self) -> Installation:
        """Open (creating if needed) the installation in the home."""
        if self._installation is None:
            self._installation = Installation.open(self.home, passphrase_source)
            if not self.verbose:
                set_file_level(self._installation.settings.get("logging.level"))
        return self._installation

    def close(self) -> None:
        """Close what was opened."""
        if self._installation is not None:
            self._installation.close()
            self._installation = None


def state(ctx: typer.Context) -> AppState:
    """The state the root callback stored."""
    value = ctx.find_root().obj
    assert isinstance(value, AppState)  # noqa: S101 - set by the root callback
    return value


_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp"})


def printable(text: str) -> str:
    """Escape control and format characters: stored text cannot drive the terminal."""
    return "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch) in _UNPRINTABLE else ch
        for ch in text
    )


class SafeTable(Table):
    """A Rich table of plain-text cells: no markup, control characters escaped."""

    def add_row(self, *cells: Any, **options: Any) -> None:
        super().add_row(*(Text(printable(str(cell))) for cell in cells), **options)


def print_json(value: Any) -> None:
    """Print one JSON document on stdout, ASCII only, so no control byte reaches it."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=True) + "\n")
    sys.stdout.flush()


def say(message: str) -> None:
    """A line for the person on stdout."""
    console.print(printable(message), markup=False)


def warn(message: str) -> None:
    """A warning line on stderr."""
    errors.print(f"warning: {printable(message)}", markup=False)
