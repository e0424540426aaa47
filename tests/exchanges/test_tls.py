"""HTTPS with certificate checks, always: impostors fail once, plain HTTP is refused."""

from __future__ import annotations

import pytest

from crypto_trader.errors import InsecureTransportError, TlsVerificationError
from crypto_trader.exchanges.door import Credentials, DoorSettings, ExchangeDoor
from crypto_trader.exchanges.https_session import require_https
from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import Permission
from crypto_trader.vault.secrets import KeyMaterial, SecretStr
from tests.exchanges.conftest import Sleeps, add_key_cli, door_for, store
from tests.support.cli import CliRunner
from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin
from tests.support.exchange_standins.tls import TestAuthorities


def test_impostor_certificate_fails_once_and_never_sees_the_key(
    trusting: Installation,
    binance: BinanceStandin,
    standin_authorities: TestAuthorities,
    sleeps: Sleeps,
) -> None:
    key = binance.add_key(BinanceKey.generate())
    store(trusting, "reader", key, Permission.READ_ONLY)
    binance.use_identity(standin_authorities.impostor_server)

    with (
        door_for(trusting, "reader", sleeps) as door,
        pytest.raises(TlsVerificationError) as raised,
    ):
        door.read("fetch_balance", lambda c: c.fetch_balance())

    assert sleeps == []  # not retried
    assert binance.requests == []
    assert len(binance.wait_for_handshake_failures(1)) == 1
    assert (
        binance.wait_for_handshake_failures(2, timeout_s=0.3)
        == binance.handshake_failures
    )
    assert len(binance.handshake_failures) == 1
    assert key.api_key not in str(raised.value)
    assert key.secret not in str(raised.value)


def test_impostor_certificate_exits_3_on_the_cli(
    trusting_cli: CliRunner,
    binance: BinanceStandin,
    standin_authorities: TestAuthorities,
) -> None:
    key = binance.add_key(BinanceKey.generate())
    assert add_key_cli(trusting_cli, "reader", key, "read-only", "--no-check").code == 0
    binance.use_identity(standin_authorities.impostor_server)

    outcome = trusting_cli("balance", "--key", "reader")

    assert outcome.code == 3, outcome.err
    assert "certificate" in outcome.err
    assert binance.requests == []
    assert key.api_key not in outcome.out + outcome.err


def test_without_the_extra_ca_setting_the_test_ca_is_not_trusted(
    installation: Installation, binance: BinanceStandin, sleeps: Sleeps
) -> None:
    installation.custody.unlock()
    store(
        installation,
        "reader",
        binance.add_key(BinanceKey.generate()),
        Permission.READ_ONLY,
    )

    with (
        door_for(installation, "reader", sleeps) as door,
        pytest.raises(TlsVerificationError),
    ):
        door.read("fetch_time", lambda c: c.fetch_time())

    assert binance.requests == []
    assert sleeps == []


def test_plain_http_url_is_refused(
    standin_authorities: TestAuthorities, binance: BinanceStandin
) -> None:
    with pytest.raises(InsecureTransportError, match="HTTPS only"):
        require_https("http://api.binance.com/api/v3/time")
    door = ExchangeDoor(
        "binance", DoorSettings(extra_ca_file=standin_authorities.ca_cert_path)
    )
    door.client.urls["api"]["public"] = "http://api.binance.com/api/v3"

    with pytest.raises(InsecureTransportError):
        door.read("fetch_time", lambda c: c.fetch_time())

    assert binance.requests == []


def test_turning_verification_off_makes_the_next_request_fail(
    trusting: Installation,
    binance: BinanceStandin,
    standin_authorities: TestAuthorities,
) -> None:
    key = binance.add_key(BinanceKey.generate())
    credentials = Credentials(
        "reader",
        KeyMaterial(SecretStr(key.api_key), SecretStr(key.secret)),
        trusting.gate,
    )
    store(trusting, "reader", key, Permission.READ_ONLY)
    door = ExchangeDoor(
        "binance",
        DoorSettings(extra_ca_file=standin_authorities.ca_cert_path),
        credentials,
    )
    with door:
        assert door.read("fetch_time", lambda c: c.fetch_time()) > 0
        binance.reset_log()
        door.client.verify = False
        with pytest.raises(InsecureTransportError, match="cannot be turned off"):
            door.read("fetch_balance", lambda c: c.fetch_balance())

    assert binance.requests == []
