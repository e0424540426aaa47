"""Choosing the master key store: the variable, the recorded store, and auto."""

from __future__ import annotations

import json

import keyring.core
import pytest

from crypto_trader.errors import ConfigurationError, InputError
from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.vault.custody import STORE_META
from crypto_trader.vault.master_key import MasterKey
from crypto_trader.vault.secrets import SecretStr
from crypto_trader.vault.store_choice import (
    StoreName,
    choose_store_name,
    detect_store,
    requested_store,
)
from tests.conftest import CANARY_SECRET, PASSPHRASE, FixedClock
from tests.support.cli import CliRunner

ADD_A = ("keys", "add", "--exchange", "binance", "--label", "a", "--stdin")
KEY_JSON = json.dumps({"api_key": "AKIAEXAMPLEKEY12345678", "secret": CANARY_SECRET})


def passphrase(new: bool) -> SecretStr:
    return SecretStr(PASSPHRASE)


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keyring.core.init_backend()


@pytest.fixture
def dev_variable(monkeypatch: pytest.MonkeyPatch) -> MasterKey:
    key = MasterKey.generate()
    monkeypatch.setenv("CRYPTO_TRADER_MASTER_KEY", key.to_text())
    return key


def test_auto_takes_the_file_without_a_keyring(no_keyring: None) -> None:
    assert requested_store() is None
    assert detect_store() is StoreName.FILE
    assert choose_store_name(None) is StoreName.FILE


def test_auto_takes_the_file_in_the_isolated_test_session() -> None:
    # No session bus here: the chainer finds no real backend.
    assert detect_store() is StoreName.FILE


def test_auto_first_use_creates_the_key_file_and_records_it(
    no_keyring: None, home: Home, clock: FixedClock
) -> None:
    installation = Installation.open(home, passphrase, clock, "tester")
    try:
        installation.custody.unlock()
        recorded = installation.db.get_meta(STORE_META)
    finally:
        installation.close()

    assert recorded == "file"
    assert home.master_key_file.exists()


@pytest.mark.parametrize(
    "backend",
    [
        "keyring.backends.null.Keyring",
        "keyring.backends.fail.Keyring",
        "keyring.backends.chainer.ChainerBackend",
    ],
)
def test_auto_never_takes_a_refused_backend(
    monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend)
    keyring.core.init_backend()

    assert detect_store() is StoreName.FILE


def test_auto_takes_env_in_development_with_the_variable(
    no_keyring: None,
    dev_variable: MasterKey,
    monkeypatch: pytest.MonkeyPatch,
    home: Home,
    clock: FixedClock,
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_ENV", "development")

    assert detect_store() is StoreName.ENV
    installation = Installation.open(home, passphrase, clock, "tester")
    try:
        assert installation.custody.unlock() == dev_variable
        assert installation.db.get_meta(STORE_META) == "env"
    finally:
        installation.close()
    assert not home.master_key_file.exists()


def test_auto_takes_the_file_in_development_without_the_variable(
    no_keyring: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_ENV", "development")
    monkeypatch.setenv("CRYPTO_TRADER_MASTER_KEY", "   ")

    assert detect_store() is StoreName.FILE


@pytest.mark.parametrize("mode", [None, "production", "developer"])
def test_variable_without_development_is_refused_naming_it(
    no_keyring: None,
    dev_variable: MasterKey,
    monkeypatch: pytest.MonkeyPatch,
    mode: str | None,
) -> None:
    if mode is not None:
        monkeypatch.setenv("CRYPTO_TRADER_ENV", mode)

    with pytest.raises(ConfigurationError) as caught:
        choose_store_name(None)

    assert "CRYPTO_TRADER_MASTER_KEY" in str(caught.value)
    assert dev_variable.to_text() not in str(caught.value)


def test_variable_without_development_on_the_command_line(
    cli: CliRunner, dev_variable: MasterKey, monkeypatch: pytest.MonkeyPatch, home: Home
) -> None:
    monkeypatch.delenv("CRYPTO_TRADER_KEY_STORE")

    outcome = cli(*ADD_A, stdin=KEY_JSON)

    assert outcome.code == 1
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1
    assert "CRYPTO_TRADER_MASTER_KEY" in lines[0]
    assert not home.master_key_file.exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("auto", None),
        ("", None),
        (" FILE ", StoreName.FILE),
        ("Keyring", StoreName.KEYRING),
        ("env", StoreName.ENV),
    ],
)
def test_requested_store_reads_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: StoreName | None
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", value)

    assert requested_store() is expected


@pytest.mark.parametrize(
    "value", ["vault", "files", "plaintext", "keyring;file", "null"]
)
def test_invalid_store_variable_is_an_input_error(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", value)

    with pytest.raises(InputError) as caught:
        requested_store()

    message = str(caught.value)
    assert "CRYPTO_TRADER_KEY_STORE" in message
    assert "auto, keyring, env or file" in message


def test_invalid_store_variable_on_the_command_line(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "vault")

    outcome = cli(*ADD_A, stdin=KEY_JSON)

    assert outcome.code == 2
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1
    assert "CRYPTO_TRADER_KEY_STORE" in lines[0]


def test_the_recorded_store_wins_over_auto(
    no_keyring: None, dev_variable: MasterKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_ENV", "development")
    assert detect_store() is StoreName.ENV

    assert choose_store_name("file") is StoreName.FILE
    assert choose_store_name("keyring") is StoreName.KEYRING


def test_the_recorded_store_wins_over_the_variable_that_agrees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "file")

    assert choose_store_name("file") is StoreName.FILE


@pytest.mark.parametrize(
    ("recorded", "requested"), [("file", "keyring"), ("keyring", "file")]
)
def test_a_conflicting_request_gives_the_move_master_hint(
    monkeypatch: pytest.MonkeyPatch, recorded: str, requested: str
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", requested)

    with pytest.raises(ConfigurationError) as caught:
        choose_store_name(recorded)

    message = str(caught.value)
    assert f"in the {recorded} store" in message
    assert f"crypto-trader keys move-master --to {requested}" in message
    assert "unset CRYPTO_TRADER_KEY_STORE" in message


@pytest.mark.parametrize("recorded", ["file", "keyring"])
def test_a_conflicting_request_for_env_gives_no_impossible_hint(
    monkeypatch: pytest.MonkeyPatch, recorded: str
) -> None:
    # move-master accepts only keyring or file: the hint must not suggest --to env.
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "env")

    with pytest.raises(ConfigurationError) as caught:
        choose_store_name(recorded)

    message = str(caught.value)
    assert "--to env" not in message
    assert "unset CRYPTO_TRADER_KEY_STORE" in message


def test_a_conflicting_request_on_the_command_line(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = cli(*ADD_A, stdin=KEY_JSON)
    assert added.code == 0, added.err
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "keyring")

    outcome = cli("keys", "verify")

    assert outcome.code == 1
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1
    assert "crypto-trader keys move-master --to keyring" in lines[0]
