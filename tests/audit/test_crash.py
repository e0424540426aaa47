"""A real SIGKILL at each step of an audited write: all of it happens, or none."""

from __future__ import annotations

import signal
import sqlite3

import pytest

from crypto_trader.home import Home
from tests.audit.tampering import audit_rows, read_head_document
from tests.support.cli import CliRunner, child_env, run_process

KEY_JSON = '{"api_key": "AKIAEXAMPLEKEY12345678", "secret": "s3cret-value-1234"}'
BEFORE = 2  # records before the killed write: the master key and the first setting

# The kill point, whether the operation is done afterwards, and the record that the
# head names as pending (being committed) when the process dies.
KILL_POINTS = {
    "record not yet inserted": (
        "crypto_trader.audit.audit_log:chain_hash:1",
        False,
        None,
    ),
    "at the pending head write": (
        "crypto_trader.audit.audit_log:write_head:1",
        False,
        None,
    ),
    "pending head written, before COMMIT": (
        "crypto_trader.secure_fs:fsync_dir:1",
        False,
        BEFORE + 1,
    ),
    "after COMMIT, before confirming": (
        "crypto_trader.audit.audit_log:write_head:2",
        True,
        BEFORE + 1,
    ),
    "head confirmed, before its fsync": (
        "crypto_trader.secure_fs:fsync_dir:2",
        True,
        None,
    ),
}
OPERATIONS = {
    "config set": ("config", "set", "security.key_max_age_days", "77"),
    "keys add": ("keys", "add", "--exchange", "kraken", "--label", "new", "--stdin"),
}


def effect_present(home: Home, operation: str) -> bool:
    conn = sqlite3.connect(home.database)
    try:
        if operation == "config set":
            query = (
                "SELECT value FROM settings WHERE name = 'security.key_max_age_days'"
            )
            return conn.execute(query).fetchone() == ("77",)
        return conn.execute("SELECT count(*) FROM api_keys").fetchone() == (1,)
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(
    ("kill_at", "done", "pending"), KILL_POINTS.values(), ids=KILL_POINTS
)
def test_killed_audited_write_is_all_or_nothing(
    cli: CliRunner,
    home: Home,
    operation: str,
    kill_at: str,
    done: bool,
    pending: int | None,
) -> None:
    assert cli("config", "set", "security.key_max_age_days", "10").code == 0
    assert len(audit_rows(home)) == BEFORE

    killed = run_process(
        *OPERATIONS[operation],
        env=child_env(CRYPTO_TRADER_TEST_KILL_AT=kill_at),
        stdin=KEY_JSON,
    )

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert read_head_document(home)["pending_seq"] == pending
    assert len(audit_rows(home)) == BEFORE + done
    assert effect_present(home, operation) is done
    verified = cli("audit", "verify")
    assert verified.code == 0, verified.err
    assert "note:" not in verified.out
    # The home is usable afterwards and the operation can simply be run again.
    again = cli(*OPERATIONS[operation], stdin=KEY_JSON)
    if done and operation == "keys add":
        assert again.code == 2
        assert "already exists" in again.err
    else:
        assert again.code == 0, again.err
    assert effect_present(home, operation)
    assert cli("audit", "verify").code == 0
