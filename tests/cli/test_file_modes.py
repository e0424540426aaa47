"""Private files: the home and its folders 0700, every file 0600, whatever the umask."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto_trader import diagnostic_log
from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.secure_fs import write_private_atomic
from crypto_trader.vault.key_record import Permission
from crypto_trader.vault.secrets import KeyMaterial, SecretStr
from tests.conftest import CANARY_SECRET, PASSPHRASE, fixed_passphrase
from tests.support.cli import CliRunner, child_env

KEY = {"api_key": "AKIAEXAMPLEKEY12345678", "secret": CANARY_SECRET}


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run the test with umask 000, the worst a user can set."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def logs_cleanup() -> Iterator[None]:
    yield
    root = logging.getLogger("crypto_trader")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()


def modes(root: Path) -> dict[str, str]:
    """Every path under `root` (and root itself) with its permission bits."""
    found = {".": f"{stat.S_IMODE(root.lstat().st_mode):04o}"}
    for path in sorted(root.rglob("*")):
        mode = stat.S_IMODE(path.lstat().st_mode)
        found[str(path.relative_to(root))] = f"{mode:04o}"
    return found


def assert_private(root: Path) -> dict[str, str]:
    found = modes(root)
    for name, mode in found.items():
        expected = "0700" if (root / name).is_dir() else "0600"
        assert mode == expected, (name, mode)
    return found


@pytest.mark.usefixtures("open_umask", "logs_cleanup")
def test_the_services_make_private_files_under_umask_000(
    home: Home, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "file")
    home.ensure()
    diagnostic_log.configure(home.logs, "INFO", verbose=False)
    opened = Installation.open(home, fixed_passphrase, user_id="tester")
    try:
        material = KeyMaterial(SecretStr(KEY["api_key"]), SecretStr(CANARY_SECRET))
        opened.vault.add("main", "binance", Permission.READ_ONLY, material)
        logging.getLogger("crypto_trader.test").warning("a line to rotate")
        rotating = next(
            h
            for h in logging.getLogger("crypto_trader").handlers
            if isinstance(h, diagnostic_log.PrivateRotatingFileHandler)
        )
        rotating.doRollover()
        logging.getLogger("crypto_trader.test").warning("a line after rotating")
        found = assert_private(home.root)
    finally:
        opened.close()
    export = tmp_path / "export.jsonl"
    write_private_atomic(export, b"{}\n")

    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    expected = {
        "crypto_trader.db",
        "crypto_trader.db-wal",
        "crypto_trader.db-shm",
        "audit.head",
        "master.key",
        "logs",
        "logs/crypto-trader.log",
        "logs/crypto-trader.log.1",
    }
    assert expected <= set(found)


@pytest.mark.usefixtures("open_umask")
def test_rotated_log_files_stay_private(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    path = logs / "test.log"
    handler = diagnostic_log.PrivateRotatingFileHandler(
        path, maxBytes=200, backupCount=3, encoding="utf-8"
    )
    logger = logging.Logger("rotation-test")
    logger.addHandler(handler)
    try:
        for number in range(40):
            logger.warning("line %d of a log that must rotate", number)
    finally:
        handler.close()

    names = sorted(p.name for p in logs.iterdir())
    assert names == ["test.log", "test.log.1", "test.log.2", "test.log.3"]
    assert assert_private(logs)


def test_the_command_line_keeps_an_existing_home_private(
    cli: CliRunner, home: Home
) -> None:
    home.root.mkdir(mode=0o755)
    home.root.chmod(0o755)
    home.database.touch()
    home.database.chmod(0o644)

    assert cli("init").code == 0

    assert assert_private(home.root)["crypto_trader.db"] == "0600"


def test_an_audit_export_replaces_a_loose_file_with_a_private_one(
    cli: CliRunner, tmp_path: Path
) -> None:
    export = tmp_path / "audit.jsonl"
    export.write_text("old\n")
    export.chmod(0o644)

    assert cli("audit", "export", "--output", str(export)).code == 0

    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    assert export.read_text() != "old\n"


def run_with_umask_000(*args: str, env: dict[str, str], stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "crypto_trader", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=lambda: os.umask(0),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_a_child_under_umask_000_creates_only_private_files(tmp_path: Path) -> None:
    home = tmp_path / "child-home"
    env = child_env(
        CRYPTO_TRADER_HOME=str(home),
        CRYPTO_TRADER_KEY_STORE="file",
        CRYPTO_TRADER_KEY_PASSPHRASE=PASSPHRASE,
    )
    export = tmp_path / "audit.jsonl"
    add = ("keys", "add", "--exchange", "binance", "--label", "main", "--stdin")

    run_with_umask_000(*add, env=env, stdin=json.dumps(KEY))
    run_with_umask_000("audit", "export", "--output", str(export), env=env)

    found = assert_private(home)
    assert {"crypto_trader.db", "audit.head", "master.key"} <= set(found)
    assert "logs/crypto-trader.log" in found
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
