"""Tests of the private Secret Service fixture itself."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import keyring.errors
import pytest
from keyring.backends import SecretService

from tests.support.secret_service import (
    SecretServiceSession,
    keyring_connection_leak_collected,
    private_secret_service,
    require_or_skip,
    secret_service_available,
)

SERVICE = "crypto-trader-test"
USERNAME = "fixture"
SECRET = "fixture-5ecret-8b1d"


@pytest.fixture
def session(tmp_path: Path) -> Iterator[SecretServiceSession]:
    """A running private Secret Service under tmp_path."""
    _require_secret_service()
    with private_secret_service(tmp_path / "ss") as running:
        yield running


@pytest.fixture
def backend(
    session: SecretServiceSession, monkeypatch: pytest.MonkeyPatch
) -> SecretService.Keyring:
    """python-keyring's SecretService backend, in-process, on the private bus."""
    for name, value in session.env.items():
        monkeypatch.setenv(name, value)
    return SecretService.Keyring()


def test_priority_finds_the_private_service(backend: SecretService.Keyring) -> None:
    assert SecretService.Keyring.priority > 0


def test_keyring_round_trip_is_visible_to_secret_tool(
    session: SecretServiceSession, backend: SecretService.Keyring
) -> None:
    backend.set_password(SERVICE, USERNAME, SECRET)

    assert backend.get_password(SERVICE, USERNAME) == SECRET
    assert session.lookup(SERVICE, USERNAME) == SECRET

    backend.delete_password(SERVICE, USERNAME)
    assert backend.get_password(SERVICE, USERNAME) is None
    assert session.lookup(SERVICE, USERNAME) is None


def test_locked_collection_raises_keyring_locked_at_once(
    session: SecretServiceSession, backend: SecretService.Keyring
) -> None:
    backend.set_password(SERVICE, USERNAME, SECRET)
    session.lock()
    assert session.is_locked()

    started = time.monotonic()
    with (
        keyring_connection_leak_collected(),
        pytest.raises(keyring.errors.KeyringLocked),
    ):
        backend.get_password(SERVICE, USERNAME)
    assert time.monotonic() - started < 2.0
    assert session.lookup(SERVICE, USERNAME) is None


def test_unlock_restores_access(
    session: SecretServiceSession, backend: SecretService.Keyring
) -> None:
    backend.set_password(SERVICE, USERNAME, SECRET)
    session.lock()

    session.unlock()

    assert not session.is_locked()
    assert backend.get_password(SERVICE, USERNAME) == SECRET


def test_files_are_private_and_secrets_stay_out_of_logs_and_repr(
    session: SecretServiceSession, backend: SecretService.Keyring, tmp_path: Path
) -> None:
    backend.set_password(SERVICE, USERNAME, SECRET)
    session.lock()
    session.unlock()

    keyring_files = list(session.keyring_dir.iterdir())
    assert keyring_files
    assert stat.S_IMODE(session.keyring_dir.stat().st_mode) == 0o700
    for path in keyring_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert session.keyring_password not in repr(session)
    for log in (tmp_path / "ss" / "logs").iterdir():
        assert stat.S_IMODE(log.stat().st_mode) == 0o600, log
        text = log.read_text(encoding="utf-8")
        assert session.keyring_password not in text
        assert SECRET not in text


def test_teardown_leaves_no_process(tmp_path: Path) -> None:
    _require_secret_service()

    with private_secret_service(tmp_path / "ss") as running:
        pids = running.pids
        bus_socket = Path(running.env["XDG_RUNTIME_DIR"]) / "bus"
        assert all(_is_running(pid) for pid in pids)

    assert not any(_is_running(pid) for pid in pids)
    assert not bus_socket.exists()


def test_require_or_skip_fails_when_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRYPTO_TRADER_REQUIRE_SECRET_SERVICE", "1")

    with pytest.raises(pytest.fail.Exception, match="no tools"):
        require_or_skip("no tools")


def test_require_or_skip_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRYPTO_TRADER_REQUIRE_SECRET_SERVICE", raising=False)

    with pytest.raises(pytest.skip.Exception, match="no tools"):
        require_or_skip("no tools")


def _require_secret_service() -> None:
    reason = secret_service_available()
    if reason is not None:
        require_or_skip(reason)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
