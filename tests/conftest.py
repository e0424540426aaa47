"""Shared fixtures: an isolated environment, a fast KDF floor, fixed clocks, the CLI."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.vault.key_stores import file_store
from crypto_trader.vault.secrets import SecretStr
from tests.support.cli import CliRunner
from tests.support.offline import offline_connect, offline_getaddrinfo

pytest_plugins = ["tests.support.exchange_standins.fixtures"]

PASSPHRASE = "test passphrase, long enough"
CANARY_SECRET = "CANARY-5ecret-7f3a9c1e-do-not-leak"


class FixedClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No CRYPTO_TRADER_* or session-bus variable leaks in; HOME is a temp folder."""
    for name in list(os.environ):
        if (
            name.startswith("CRYPTO_TRADER_")
            and name != "CRYPTO_TRADER_REQUIRE_SECRET_SERVICE"
        ):
            monkeypatch.delenv(name)
    for name in ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    user_home = tmp_path / "user-home"
    user_home.mkdir()
    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.setenv("XDG_DATA_HOME", str(user_home / ".local/share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(user_home / ".config"))
    monkeypatch.setattr(file_store, "SCRYPT_MIN_LOG2_N", 10)
    monkeypatch.setattr(socket, "getaddrinfo", offline_getaddrinfo(socket.getaddrinfo))
    monkeypatch.setattr(
        socket.socket, "connect", offline_connect(socket.socket.connect)
    )
    _reset_keyring()
    yield
    _reset_keyring()


def _reset_keyring() -> None:
    """Forget python-keyring's cached backends, so each test detects its own."""
    import keyring.backend
    import keyring.core

    with contextlib.suppress(KeyError):  # nothing cached yet
        keyring.backend.get_all_keyring.reset()
    keyring.core.init_backend()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "ct-home")


def fixed_passphrase(new: bool) -> SecretStr:
    return SecretStr(PASSPHRASE)


@pytest.fixture
def installation(
    home: Home, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Installation]:
    """An installation on the file store with a fixed passphrase and clock."""
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "file")
    opened = Installation.open(home, fixed_passphrase, clock=clock, user_id="tester")
    yield opened
    opened.close()


@pytest.fixture
def cli(home: Home, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """The command line run in-process against `home`, on the file store."""
    monkeypatch.setenv("CRYPTO_TRADER_HOME", str(home.root))
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "file")
    monkeypatch.setenv("CRYPTO_TRADER_KEY_PASSPHRASE", PASSPHRASE)
    return CliRunner(monkeypatch, tmp_path)
