"""Exit status and error lines: 0 done, 1 failed, 2 usage, 3 refused."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from crypto_trader import __version__
from crypto_trader.home import Home
from crypto_trader.vault.key_stores.file_store import PASSPHRASE_VARIABLE
from tests.support.cli import CliRunner, Outcome

KEY = json.dumps({"api_key": "AKIAEXAMPLEKEY12345678", "secret": "s3cret-value"})


def add_key(cli: CliRunner, label: str = "main") -> None:
    added = cli(
        "keys",
        "add",
        "--exchange",
        "binance",
        "--label",
        label,
        "--stdin",
        "--no-check",
        stdin=KEY,
    )
    assert added.code == 0, added.err


def assert_one_error_line(outcome: Outcome, code: int) -> None:
    assert outcome.code == code, outcome
    assert outcome.err.startswith("error: "), outcome.err
    assert outcome.err.count("\n") == 1, outcome.err
    assert "Traceback" not in outcome.err


@pytest.mark.parametrize(
    "args",
    [
        ("--no-such-option", "keys", "list"),
        ("keys", "list", "--no-such-option"),
        ("no-such-command",),
        ("keys",),
        ("keys", "add", "--label", "main", "--stdin"),
        ("keys", "add", "--exchange", "binance", "--label", "m", "--permission", "all"),
        ("keys", "add", "--exchange", "binance", "--label", "x" * 65, "--stdin"),
        ("keys", "add", "--exchange", "binance", "--label", "tab\there", "--stdin"),
        ("keys", "add", "--exchange", "binance", "--label", "   ", "--stdin"),
        ("keys", "add", "--exchange", "nyse", "--label", "main", "--stdin"),
        ("keys", "set-permission", "main", "admin"),
        ("keys", "move-master", "--to", "env"),
        ("audit", "show", "--type", "NO_SUCH_EVENT"),
        ("audit", "show", "--since", "last tuesday"),
        ("audit", "show", "--since", "2024-01-31T12:00:00+02:00"),
        ("audit", "show", "--limit", "0"),
        ("config", "get", "no.such.setting"),
        ("config", "set", "no.such.setting", "1"),
        ("config", "set", "security.key_max_age_days", "0"),
        ("config", "set", "logging.level", "LOUD"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    cli: CliRunner, args: tuple[str, ...]
) -> None:
    outcome = cli(*args, stdin=KEY)

    assert_one_error_line(outcome, 2)


def test_keys_add_without_stdin_or_terminal_says_to_use_stdin(cli: CliRunner) -> None:
    outcome = cli("keys", "add", "--exchange", "binance", "--label", "main")

    assert_one_error_line(outcome, 2)
    assert "--stdin" in outcome.err
    assert "main" not in cli("keys", "list").out


def test_a_bad_label_is_named_before_any_key_is_read(cli: CliRunner) -> None:
    outcome = cli("keys", "add", "--exchange", "binance", "--label", "x" * 65)

    assert_one_error_line(outcome, 2)
    assert "1 to 64 characters" in outcome.err


def test_unknown_label_wrong_passphrase_and_env_refusals_exit_1(
    cli: CliRunner, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_key(cli)
    assert_one_error_line(cli("keys", "remove", "nope"), 1)
    assert_one_error_line(cli("keys", "update", "nope", "--stdin", stdin=KEY), 1)
    monkeypatch.setenv(PASSPHRASE_VARIABLE, "a wrong passphrase, long enough")
    wrong = cli("keys", "verify")
    assert_one_error_line(wrong, 1)
    assert "wrong passphrase" in wrong.err
    assert_one_error_line(cli("keys", "remove", "main"), 1)
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "env")
    assert_one_error_line(cli("keys", "verify"), 1)


@pytest.mark.parametrize("development", [False, True])
def test_the_env_store_refusals_exit_1(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, development: bool
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "env")
    if development:
        monkeypatch.setenv("CRYPTO_TRADER_ENV", "development")

    outcome = cli(
        "keys", "add", "--exchange", "binance", "--label", "m", "--stdin", stdin=KEY
    )

    assert outcome.code == 1
    assert outcome.err.splitlines()[-1].startswith("error: ")
    assert "CRYPTO_TRADER_MASTER_KEY" in outcome.err
    assert "Traceback" not in outcome.err


def test_rotating_an_env_store_key_is_refused_with_exit_1(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "env")
    monkeypatch.setenv("CRYPTO_TRADER_ENV", "development")
    monkeypatch.setenv("CRYPTO_TRADER_MASTER_KEY", Fernet.generate_key().decode())
    add_key(cli)

    rotated = cli("keys", "rotate-master")

    assert rotated.code == 1
    lines = rotated.err.splitlines()
    assert lines[0].startswith("warning: using the master key from")
    assert lines[-1].startswith("error: the env store cannot save")
    assert "Traceback" not in rotated.err


def test_integrity_failures_exit_3(cli: CliRunner, home: Home) -> None:
    add_key(cli)
    add_key(cli, "spare")
    assert cli("keys", "verify").code == 0
    assert cli("audit", "verify").code == 0
    assert cli("security-report").code == 0
    with sqlite3.connect(home.database) as conn:
        conn.execute("UPDATE api_keys SET permission = 'trading' WHERE label = 'main'")
        conn.execute("UPDATE audit_log SET details = '{}' WHERE seq = 2")
    conn.close()

    verify = cli("keys", "verify")
    assert verify.code == 3
    assert (
        verify.err == "warning: key 'main' failed verification; it will not be used\n"
    )
    audit = cli("audit", "verify")
    assert audit.code == 3
    assert audit.err.startswith("warning: audit log failed verification: record 2")
    report = cli("security-report", "--json")
    assert report.code == 3
    assert json.loads(report.out)["attention"]
    assert "Traceback" not in verify.err + audit.err + report.err


def test_an_unsafe_key_file_is_refused_with_exit_3(cli: CliRunner, home: Home) -> None:
    add_key(cli)
    home.master_key_file.chmod(0o644)

    outcome = cli("keys", "verify")

    assert_one_error_line(outcome, 3)
    assert f"chmod 600 {home.master_key_file}" in outcome.err


def test_success_exits_0_and_version_prints_it(cli: CliRunner) -> None:
    version = cli("--version")
    assert version.code == 0
    assert version.out == f"crypto-trader {__version__}\n"
    add_key(cli)
    for args in (("keys", "list"), ("audit", "verify"), ("config", "show")):
        outcome = cli(*args)
        assert outcome.code == 0
        assert outcome.err == ""


def test_verbose_prints_diagnostic_lines_on_stderr(cli: CliRunner) -> None:
    quiet = cli("keys", "remove", "nope")
    loud = cli("--verbose", "keys", "remove", "nope")

    assert quiet.err.splitlines() == loud.err.splitlines()[-1:]
    assert "DEBUG crypto_trader.cli: crypto-trader" in loud.err
    assert "INFO crypto_trader.cli: refused: NotFoundError" in loud.err


def test_an_internal_error_is_one_line_and_logged(
    cli: CliRunner, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crypto_trader.cli import keys_commands

    def broken(*args: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(keys_commands, "print_json", broken)

    outcome = cli("keys", "list", "--json")

    assert_one_error_line(outcome, 1)
    assert "internal error (ZeroDivisionError)" in outcome.err
    log = (home.logs / "crypto-trader.log").read_text()
    assert "Traceback" in log
    assert "ZeroDivisionError: a bug" in log


def test_an_export_to_a_missing_folder_names_the_option(
    cli: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "missing" / "audit.jsonl"

    outcome = cli("audit", "export", "--output", str(target))

    assert_one_error_line(outcome, 2)
    assert "--output" in outcome.err
    assert not target.parent.exists()


def test_an_export_onto_a_folder_leaves_no_stray_copy(
    cli: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "folder"
    target.mkdir()

    outcome = cli("audit", "export", "--output", str(target))

    assert_one_error_line(outcome, 2)
    assert target.is_dir()
    assert list(tmp_path.glob(".*.tmp")) == []
