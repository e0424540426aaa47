"""The development-only env store: refused outside development, read-only in it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from crypto_trader.errors import ConfigurationError, InputError
from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.vault.key_stores import env_store
from crypto_trader.vault.key_stores.base import StoredKeys
from crypto_trader.vault.key_stores.env_store import EnvKeyStore
from crypto_trader.vault.master_key import MasterKey
from crypto_trader.vault.secrets import SecretStr
from tests.conftest import CANARY_SECRET, FixedClock
from tests.support.cli import CliRunner, Outcome

VARIABLE = "CRYPTO_TRADER_MASTER_KEY"
ADD_A = ("keys", "add", "--exchange", "binance", "--label", "a", "--stdin")
KEY_JSON = json.dumps({"api_key": "AKIAEXAMPLEKEY12345678", "secret": CANARY_SECRET})


class Collecting(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def env_warnings() -> Iterator[list[logging.LogRecord]]:
    """Warnings of the env store's logger, whatever the CLI did to propagation."""
    handler = Collecting()
    logger = logging.getLogger(env_store.__name__)
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def development(monkeypatch: pytest.MonkeyPatch) -> MasterKey:
    key = MasterKey.generate()
    monkeypatch.setenv("CRYPTO_TRADER_ENV", "development")
    monkeypatch.setenv(VARIABLE, key.to_text())
    return key


def no_passphrase(new: bool) -> SecretStr:
    raise AssertionError("the env store never asks for a passphrase")


def error_lines(outcome: Outcome) -> list[str]:
    lines = outcome.err.strip().splitlines()
    assert all(line.startswith(("error:", "warning:")) for line in lines), outcome.err
    assert "Traceback" not in outcome.err
    return [line for line in lines if line.startswith("error:")]


@pytest.mark.parametrize("mode", [None, "", "production", "dev", "test"])
def test_refused_outside_development_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, mode: str | None
) -> None:
    monkeypatch.setenv(VARIABLE, MasterKey.generate().to_text())
    if mode is not None:
        monkeypatch.setenv("CRYPTO_TRADER_ENV", mode)

    with pytest.raises(ConfigurationError) as caught:
        EnvKeyStore()

    message = str(caught.value)
    assert VARIABLE in message
    assert "CRYPTO_TRADER_ENV=development" in message
    assert "CRYPTO_TRADER_KEY_STORE" in message


def test_refused_on_the_command_line_without_development(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = MasterKey.generate().to_text()
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "env")
    monkeypatch.setenv(VARIABLE, key)

    outcome = cli(*ADD_A, stdin=KEY_JSON)

    assert outcome.code == 1
    (line,) = error_lines(outcome)
    assert VARIABLE in line
    assert key not in outcome.err + outcome.out


def test_accepted_in_development_with_a_warning_each_time(
    development: MasterKey, env_warnings: list[logging.LogRecord]
) -> None:
    first, second = EnvKeyStore(), EnvKeyStore()

    assert first.load() == StoredKeys(current=development)
    assert second.load().current == development
    warnings = [r for r in env_warnings if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert all(VARIABLE in r.getMessage() for r in warnings)
    assert development.to_text() not in " ".join(r.getMessage() for r in env_warnings)
    assert first.development_only()
    assert not first.can_save


def test_development_mode_ignores_case_and_spaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_ENV", "  Development ")

    EnvKeyStore()


def test_each_command_warns_and_the_warning_is_logged(
    cli: CliRunner, development: MasterKey, monkeypatch: pytest.MonkeyPatch, home: Home
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "env")

    added = cli(*ADD_A, stdin=KEY_JSON)
    verified = cli("keys", "verify")

    assert added.code == 0, added.err
    assert verified.code == 0, verified.err
    for outcome in (added, verified):
        assert "development only" in outcome.err
    log_text = (home.logs / "crypto-trader.log").read_text()
    assert log_text.count(f"using the master key from {VARIABLE}") >= 2
    assert development.to_text() not in log_text
    assert not home.master_key_file.exists()


@pytest.mark.parametrize(
    "text",
    ["not-a-key-SECRETISH-value", "c2hvcnQ=", "A" * 88, "ключ-" * 9, "=" * 44],
    ids=["words", "too short", "too long", "non-ascii", "padding only"],
)
def test_invalid_key_text_is_an_input_error_without_the_value(
    development: MasterKey, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv(VARIABLE, text)
    store = EnvKeyStore()

    with pytest.raises(InputError) as caught:
        store.load()

    message = str(caught.value)
    assert VARIABLE in message
    assert "Fernet" in message
    assert text not in message


def test_a_key_with_surrounding_spaces_is_read(
    development: MasterKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, f"  {development.to_text()}\n")

    assert EnvKeyStore().load().current == development


def test_invalid_key_text_on_the_command_line(
    cli: CliRunner, development: MasterKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = "SECRETISH-not-a-fernet-key-0123456789"
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "env")
    monkeypatch.setenv(VARIABLE, value)

    outcome = cli(*ADD_A, stdin=KEY_JSON)

    assert outcome.code == 2
    (line,) = error_lines(outcome)
    assert VARIABLE in line
    assert value not in outcome.err + outcome.out


def test_missing_key_is_refused_saying_how_to_supply_one(
    development: MasterKey,
    monkeypatch: pytest.MonkeyPatch,
    home: Home,
    clock: FixedClock,
) -> None:
    monkeypatch.delenv(VARIABLE)
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "env")
    installation = Installation.open(home, no_passphrase, clock, "tester")
    try:
        with pytest.raises(ConfigurationError) as caught:
            installation.custody.unlock()
        assert installation.custody.fingerprint() is None
    finally:
        installation.close()

    message = str(caught.value)
    assert VARIABLE in message
    assert "move-master --to keyring|file" in message
    assert not home.master_key_file.exists()


def test_missing_key_is_refused_on_the_command_line(
    cli: CliRunner, development: MasterKey, monkeypatch: pytest.MonkeyPatch, home: Home
) -> None:
    monkeypatch.delenv(VARIABLE)
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "env")

    outcome = cli(*ADD_A, stdin=KEY_JSON)

    assert outcome.code == 1
    (line,) = error_lines(outcome)
    assert VARIABLE in line
    assert "move-master" in line
    assert cli("keys", "list", "--json").out.strip() in ("[]", "")
    assert not home.master_key_file.exists()


def test_key_removed_after_first_use_is_missing_not_regenerated(
    cli: CliRunner, development: MasterKey, monkeypatch: pytest.MonkeyPatch, home: Home
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "env")
    added = cli(*ADD_A, stdin=KEY_JSON)
    assert added.code == 0, added.err
    monkeypatch.delenv(VARIABLE)

    outcome = cli("keys", "verify")

    assert outcome.code == 1
    (line,) = error_lines(outcome)
    assert "env store has none" in line
    assert not home.master_key_file.exists()
    monkeypatch.setenv(VARIABLE, development.to_text())
    assert cli("keys", "verify").code == 0


def test_rotate_master_is_refused_and_changes_nothing(
    cli: CliRunner, development: MasterKey, monkeypatch: pytest.MonkeyPatch, home: Home
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "env")
    added = cli(*ADD_A, stdin=KEY_JSON)
    assert added.code == 0, added.err
    before = cli("audit", "show", "--json")

    outcome = cli("keys", "rotate-master")

    assert outcome.code == 1
    (line,) = error_lines(outcome)
    assert VARIABLE in line
    assert "move-master --to keyring|file" in line
    assert cli("keys", "verify").code == 0
    after = cli("audit", "show", "--json")
    rotated = [
        r for r in json.loads(after.out) if r["details"].get("action") == "rotated"
    ]
    assert rotated == []
    assert len(json.loads(after.out)) == len(json.loads(before.out))
    assert not home.master_key_file.exists()


def test_the_env_store_cannot_save_or_erase(development: MasterKey) -> None:
    store = EnvKeyStore()

    for attempt in (
        lambda: store.save(StoredKeys(current=MasterKey.generate())),
        store.erase,
    ):
        with pytest.raises(ConfigurationError, match=VARIABLE):
            attempt()
    assert store.load().current == development


def test_moving_from_the_env_store_to_the_file_store(
    cli: CliRunner, development: MasterKey, monkeypatch: pytest.MonkeyPatch, home: Home
) -> None:
    # The way out the refusals point to must itself work.
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "env")
    added = cli(*ADD_A, stdin=KEY_JSON)
    assert added.code == 0, added.err
    monkeypatch.delenv("CRYPTO_TRADER_KEY_STORE")

    moved = cli("keys", "move-master", "--to", "file")

    assert moved.code == 0, moved.err
    assert "yourself" in moved.err
    assert home.master_key_file.exists()
    for name in (VARIABLE, "CRYPTO_TRADER_ENV"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "file")
    assert cli("keys", "verify").code == 0
    assert cli("audit", "verify").code == 0
    shown = json.loads(
        cli("audit", "show", "--type", "MASTER_KEY_CHANGED", "--json").out
    )
    assert shown[-1]["details"] == {
        "action": "moved",
        "from": "env",
        "to": "file",
        "fingerprint": development.fingerprint,
    }
