"""Shared set-up for the exchange layer's tests: an installation that trusts the
stand-ins' test CA, stored keys, and quick access to audit records."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from crypto_trader.exchanges.sessions import open_keyed_door
from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import Permission
from crypto_trader.vault.secrets import KeyMaterial, SecretStr
from tests.support.cli import CliRunner, Outcome
from tests.support.exchange_standins.binance import BinanceKey
from tests.support.exchange_standins.coinbase_auth import CoinbaseKey
from tests.support.exchange_standins.tls import TestAuthorities


class Sleeps(list[float]):
    """A stand-in for time.sleep that records each delay instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def trusting(
    installation: Installation, standin_authorities: TestAuthorities
) -> Installation:
    """The installation, unlocked, trusting the stand-ins' CA as its extra CA."""
    installation.custody.unlock()
    installation.settings.set(
        "exchange.extra_ca_file", str(standin_authorities.ca_cert_path)
    )
    return installation


def store(
    installation: Installation,
    label: str,
    key: BinanceKey | CoinbaseKey,
    level: Permission,
) -> None:
    """Store a stand-in key in the vault under `label`."""
    if isinstance(key, BinanceKey):
        material = KeyMaterial(SecretStr(key.api_key), SecretStr(key.secret))
        exchange = "binance"
    else:
        material = KeyMaterial(SecretStr(key.name), SecretStr(key.secret))
        exchange = "coinbase"
    installation.vault.add(label, exchange, level, material)


def details(installation: Installation, event_type: str) -> list[dict[str, Any]]:
    return [r.details for r in installation.audit.records(event_type)]


def door_for(
    installation: Installation, label: str, sleep: Callable[[float], None]
) -> Any:
    return open_keyed_door(installation, label, sleep=sleep)


@pytest.fixture
def trusting_cli(cli: CliRunner, standin_authorities: TestAuthorities) -> CliRunner:
    """The command line, with the stand-ins' CA set as the extra CA."""
    done = cli(
        "config", "set", "exchange.extra_ca_file", str(standin_authorities.ca_cert_path)
    )
    assert done.code == 0, done.err
    return cli


def add_key_cli(
    cli: CliRunner,
    label: str,
    key: BinanceKey | CoinbaseKey,
    permission: str,
    *extra: str,
) -> Outcome:
    """`keys add` for a stand-in key, material on stdin."""
    if isinstance(key, BinanceKey):
        stdin = json.dumps({"api_key": key.api_key, "secret": key.secret})
        exchange = "binance"
    else:
        stdin = json.dumps({"name": key.name, "privateKey": key.secret})
        exchange = "coinbase"
    return cli(
        "keys",
        "add",
        "--exchange",
        exchange,
        "--label",
        label,
        "--permission",
        permission,
        "--stdin",
        *extra,
        stdin=stdin,
    )


@pytest.fixture
def home_logs(home: Home) -> str:
    """The home's log directory (its files are read after a command ran)."""
    return str(home.logs)
