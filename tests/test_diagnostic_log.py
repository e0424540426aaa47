"""The diagnostic log: a 0600 file in logs/, secrets redacted, quiet stderr."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto_trader import diagnostic_log
from crypto_trader.home import Home
from crypto_trader.vault.secrets import MASK, SecretStr
from tests.conftest import CANARY_SECRET
from tests.support.cli import CliRunner

log = logging.getLogger("crypto_trader.test")


class Stderr:
    """What the log printed on stderr (pytest's capture of it)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self._seen = ""

    def getvalue(self) -> str:
        self._seen += self._capsys.readouterr().err
        return self._seen


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str]) -> Iterator[Stderr]:
    """Capture what the log prints on stderr; drop the handlers afterwards."""
    yield Stderr(capsys)
    root = logging.getLogger("crypto_trader")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()


def log_file(logs: Path) -> str:
    return (logs / diagnostic_log.LOG_NAME).read_text(encoding="utf-8")


def fail_with(message: str) -> None:
    try:
        raise RuntimeError(message)
    except RuntimeError:
        log.exception("something broke")


def test_secrets_are_redacted_in_messages_arguments_and_tracebacks(
    tmp_path: Path, stderr: Stderr
) -> None:
    pem = f"-----BEGIN KEY-----\n{CANARY_SECRET}-line-one\nsecond-line-xyz\n"
    SecretStr(CANARY_SECRET)
    SecretStr(pem)
    diagnostic_log.configure(tmp_path, "DEBUG", verbose=True)

    log.info("secret in the message: " + CANARY_SECRET)
    log.warning("secret as an argument: %s", CANARY_SECRET)
    log.debug("one line of a multi-line secret: %s", "second-line-xyz")
    fail_with(f"an exception carrying {CANARY_SECRET}")

    for text in (log_file(tmp_path), stderr.getvalue()):
        assert CANARY_SECRET not in text
        assert "second-line-xyz" not in text
        assert f"secret as an argument: {MASK}" in text
        assert f"RuntimeError: an exception carrying {MASK}" in text


def test_without_verbose_stderr_gets_one_line_per_warning_only(
    tmp_path: Path, stderr: Stderr
) -> None:
    diagnostic_log.configure(tmp_path, "INFO", verbose=False)

    log.debug("a detail")
    log.info("a lifecycle event")
    log.warning("a degraded but continuing state")
    fail_with("a bug")

    assert stderr.getvalue() == "warning: a degraded but continuing state\n"
    written = log_file(tmp_path)
    assert "a detail" not in written
    assert "INFO crypto_trader.test: a lifecycle event" in written
    assert "Traceback" in written
    assert "RuntimeError: a bug" in written


def test_verbose_prints_every_level_with_tracebacks(
    tmp_path: Path, stderr: Stderr
) -> None:
    diagnostic_log.configure(tmp_path, "ERROR", verbose=True)

    log.debug("a detail")
    fail_with("a bug")

    printed = stderr.getvalue()
    assert "DEBUG crypto_trader.test: a detail" in printed
    assert "Traceback" in printed
    assert "a detail" in log_file(tmp_path)


def test_configuring_again_replaces_the_handlers(
    tmp_path: Path, stderr: Stderr
) -> None:
    diagnostic_log.configure(tmp_path, "INFO", verbose=False)
    diagnostic_log.configure(tmp_path, "INFO", verbose=False)

    log.warning("once")

    assert stderr.getvalue() == "warning: once\n"
    assert log_file(tmp_path).count("once") == 1


def test_the_file_level_follows_the_setting(tmp_path: Path, stderr: Stderr) -> None:
    diagnostic_log.configure(tmp_path, "INFO", verbose=False)
    diagnostic_log.set_file_level("ERROR")

    log.warning("dropped from the file")
    log.error("kept in the file")

    assert "dropped" not in log_file(tmp_path)
    assert "kept in the file" in log_file(tmp_path)
    assert stderr.getvalue() == "warning: dropped from the file\n"


def test_the_logging_level_setting_reaches_the_log_file(
    cli: CliRunner, home: Home
) -> None:
    assert cli("keys", "remove", "nope").code == 1
    assert "refused: NotFoundError" in log_file(home.logs)
    assert "DEBUG" not in log_file(home.logs)

    assert cli("config", "set", "logging.level", "ERROR").code == 0
    assert cli("keys", "remove", "nope-again").code == 1
    assert log_file(home.logs).count("refused:") == 1
    assert cli("--verbose", "keys", "remove", "nope-verbose").code == 1
    assert log_file(home.logs).count("refused:") == 2
