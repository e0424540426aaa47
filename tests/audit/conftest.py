"""Fixtures for the audit log: a home with a short chain of real records."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import Permission
from crypto_trader.vault.secrets import KeyMaterial, SecretStr
from tests.conftest import CANARY_SECRET, PASSPHRASE, FixedClock

Opener = Callable[..., Installation]
CHAIN_LENGTH = 6


def demo_material(secret: str = CANARY_SECRET) -> KeyMaterial:
    """Key material whose secret is the canary."""
    return KeyMaterial(SecretStr("AKIAEXAMPLEKEY12345678"), SecretStr(secret))


@pytest.fixture
def open_home(
    home: Home, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Opener]:
    """Open more installations on `home`: another process, a wrong passphrase."""
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "file")
    opened: list[Installation] = []

    def open_(passphrase: str = PASSPHRASE, user_id: str = "tester") -> Installation:
        installation = Installation.open(
            home, lambda new: SecretStr(passphrase), clock=clock, user_id=user_id
        )
        opened.append(installation)
        return installation

    yield open_
    for installation in opened:
        installation.close()


@pytest.fixture
def chain(installation: Installation, clock: FixedClock) -> Installation:
    """An installation whose audit log holds six keyed records, a minute apart.

    1 MASTER_KEY_CHANGED, 2 API_KEY_CHANGED, 3 PERMISSION_CHANGED,
    4 and 5 CONFIGURATION_CHANGED, 6 API_KEY_CHANGED.
    """
    installation.vault.add("main", "binance", Permission.READ_ONLY, demo_material())
    clock.advance(minutes=1)
    installation.vault.set_permission("main", Permission.TRADING)
    clock.advance(minutes=1)
    installation.settings.set("security.key_max_age_days", "30")
    clock.advance(minutes=1)
    installation.settings.set("logging.level", "DEBUG")
    clock.advance(minutes=1)
    installation.vault.add("spare", "kraken", Permission.READ_ONLY, demo_material())
    report = installation.verify_audit()
    assert report.ok, report
    assert (report.records, report.anchored_seq) == (CHAIN_LENGTH, CHAIN_LENGTH)
    return installation
