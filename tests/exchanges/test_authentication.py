"""A wrong signature is an authentication problem, and no secret is ever shown."""

from __future__ import annotations

import secrets

import pytest

from crypto_trader.errors import ExchangeAuthenticationError
from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import Permission
from crypto_trader.vault.secrets import KeyMaterial, SecretStr
from tests.exchanges.conftest import Sleeps, door_for
from tests.support.cli import CliRunner
from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin
from tests.support.exchange_standins.coinbase import CoinbaseStandin
from tests.support.exchange_standins.coinbase_auth import CoinbaseKey


def test_binance_corrupted_secret_is_an_authentication_error_without_secrets(
    trusting: Installation, binance: BinanceStandin, sleeps: Sleeps
) -> None:
    real = binance.add_key(BinanceKey.generate(can_trade=True))
    wrong = secrets.token_hex(32)
    trusting.vault.add(
        "bad",
        "binance",
        Permission.READ_ONLY,
        KeyMaterial(SecretStr(real.api_key), SecretStr(wrong)),
    )

    with (
        door_for(trusting, "bad", sleeps) as door,
        pytest.raises(ExchangeAuthenticationError) as raised,
    ):
        door.read("fetch_balance", lambda c: c.fetch_balance())

    message = str(raised.value)
    assert "refused the key" in message
    assert wrong not in message
    assert real.secret not in message
    assert sleeps == []  # an authentication failure is not retried
    assert len(binance.requests_to("/api/v3/account", "GET")) == 1


def test_coinbase_corrupted_private_key_is_an_authentication_error_without_secrets(
    trusting: Installation, coinbase: CoinbaseStandin, sleeps: Sleeps
) -> None:
    real = coinbase.add_key(CoinbaseKey.generate(can_trade=True))
    other = CoinbaseKey.generate()
    trusting.vault.add(
        "bad",
        "coinbase",
        Permission.READ_ONLY,
        KeyMaterial(SecretStr(real.name), SecretStr(other.secret)),
    )

    with (
        door_for(trusting, "bad", sleeps) as door,
        pytest.raises(ExchangeAuthenticationError) as raised,
    ):
        door.read("fetch_balance", lambda c: c.fetch_balance())

    message = str(raised.value)
    assert "refused the key" in message
    for secret in (real.secret, other.secret):
        for line in secret.splitlines()[1:-1]:
            assert line not in message


def test_cli_reports_authentication_without_secrets_in_output_or_log(
    trusting_cli: CliRunner, binance: BinanceStandin, home_logs: str
) -> None:
    import json

    real = binance.add_key(BinanceKey.generate())
    wrong = secrets.token_hex(32)
    added = trusting_cli(
        "keys",
        "add",
        "--exchange",
        "binance",
        "--label",
        "bad",
        "--stdin",
        "--no-check",
        stdin=json.dumps({"api_key": real.api_key, "secret": wrong}),
    )
    assert added.code == 0, added.err

    outcome = trusting_cli("--verbose", "balance", "--key", "bad")

    assert outcome.code != 0
    assert "refused the key" in outcome.err
    shown = outcome.out + outcome.err + home_logs_text(home_logs)
    assert wrong not in shown
    assert real.secret not in shown


def home_logs_text(path: str) -> str:
    from pathlib import Path

    return "".join(
        p.read_text(errors="replace") for p in Path(path).glob("*") if p.is_file()
    )
