"""The no-leak guarantee: a planted canary secret never shows up anywhere.

One long scenario drives every command and error path with the canary as the API
secret and a second canary as the API passphrase, then scans everything the program
printed or wrote: stdout, stderr, the raw bytes of the database, its WAL and shared
memory file, the audit head, the master key file, the logs and the audit export.
The key file's passphrase and the master key itself (before and after a rotation)
are looked for as well.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.vault import key_vault
from crypto_trader.vault.key_stores.file_store import PASSPHRASE_VARIABLE
from crypto_trader.vault.secrets import redactions
from tests.cli.leak_scan import file_leaks, text_leaks
from tests.conftest import CANARY_SECRET, PASSPHRASE, fixed_passphrase
from tests.support.cli import CliRunner, Outcome, child_env, run_process

CANARY_PASSPHRASE = "CANARY-passphr4se-0b8d2e61-do-not-leak"
CANARIES = [CANARY_SECRET, CANARY_PASSPHRASE]
WRONG_PASSPHRASE = "a wrong passphrase, long enough"
API_KEY = "AKIAEXAMPLEKEY12345678"
CDP_NAME = "organizations/0b8d2e61/apiKeys/7f3a9c1e"
PEM = (
    "-----BEGIN EC PRIVATE KEY-----\n"
    f"MHcCAQEEIB{CANARY_SECRET}\n"
    "AwEHoUQDQgAEexample+line+two==\n"
    "-----END EC PRIVATE KEY-----\n"
)

Run = Callable[..., Outcome]


def exchange_key(**changes: object) -> str:
    """The `--stdin` JSON for a key with both canaries planted."""
    document = {"api_key": API_KEY, "secret": CANARY_SECRET}
    document["passphrase"] = CANARY_PASSPHRASE
    return json.dumps(document | changes)


@pytest.fixture
def run(cli: CliRunner) -> tuple[Run, list[Outcome]]:
    """Run a command, check its exit status, and keep what it printed."""
    seen: list[Outcome] = []

    def invoke(*args: str, stdin: str = "", code: int = 0) -> Outcome:
        outcome = cli(*args, stdin=stdin)
        seen.append(outcome)
        assert outcome.code == code, (args, outcome)
        if code != 0 and "--verbose" not in args:
            assert "Traceback" not in outcome.err, (args, outcome.err)
        return outcome

    return invoke, seen


def add_keys(run: Run) -> None:
    add = ("keys", "add", "--exchange", "kraken", "--label", "main", "--stdin")
    run(*add, "--permission", "trading", stdin=exchange_key())
    cdp = {"name": CDP_NAME, "privateKey": PEM}
    run(
        "keys",
        "add",
        "--exchange",
        "coinbase",
        "--label",
        "cdp",
        "--stdin",
        "--no-check",  # its made-up PEM cannot sign; the check path is covered below
        stdin=json.dumps(cdp),
    )
    run("--verbose", "keys", "update", "cdp", "--stdin", stdin=json.dumps(cdp))
    run("keys", "update", "main", "--stdin", stdin=exchange_key())


def assert_stored(home: Home) -> str:
    """The canaries really are in the vault: the scan below could find them.

    Returns the master key's text, which must not be found in clear either.
    """
    opened = Installation.open(home, fixed_passphrase, user_id="tester")
    try:
        _, material = opened.vault.open("main")
        assert material.secret.reveal() == CANARY_SECRET
        assert material.passphrase is not None
        assert material.passphrase.reveal() == CANARY_PASSPHRASE
        _, cdp = opened.vault.open("cdp")
        assert cdp.api_key.reveal() == CDP_NAME
        assert cdp.secret.reveal() == PEM
        return opened.custody.unlock(create=False).to_text()
    finally:
        opened.close()


def everyday_commands(run: Run, export: Path) -> None:
    for listing in (("keys", "list"), ("keys", "list", "--json")):
        run(*listing)
        run("--verbose", *listing)
    run("keys", "set-permission", "main", "read-only")
    run("keys", "verify")
    run("--verbose", "keys", "rotate-master")
    run("keys", "verify")
    for args in (("audit", "show"), ("audit", "show", "--json"), ("audit", "verify")):
        run(*args)
    run("audit", "export")
    run("audit", "export", "--output", str(export))
    run("config", "show")
    run("config", "show", "--json")
    run("config", "get", "security.key_max_age_days")
    run("config", "set", "security.key_max_age_days", "30")
    run("config", "set", "security.key_max_age_days", "thirty", code=2)
    run("config", "set", "no.such.setting", "1", code=2)
    run("security-report")
    run("--verbose", "security-report", "--json")


def mistakes(run: Run) -> None:
    add = ("keys", "add", "--exchange", "binance", "--stdin")
    truncated = exchange_key()[:-3]
    run(*add, "--label", "broken", stdin=truncated, code=2)
    run("--verbose", *add, "--label", "broken", stdin=truncated, code=2)
    run(*add, "--label", "list", stdin=json.dumps([CANARY_SECRET]), code=2)
    run(*add, "--label", "typed", stdin=exchange_key(secret=[CANARY_SECRET]), code=2)
    run(*add, "--label", "big", stdin=exchange_key(secret=CANARY_SECRET * 600), code=2)
    run(*add, "--label", "x" * 65, stdin=exchange_key(), code=2)
    run(*add, "--label", "main", stdin=exchange_key(), code=2)
    run(
        "keys",
        "add",
        "--exchange",
        "no-such-exchange",
        "--label",
        "y",
        "--stdin",
        stdin=exchange_key(),
        code=2,
    )
    run("keys", "add", "--exchange", "binance", "--label", "z", code=2)
    run("keys", "update", "main", stdin=exchange_key(), code=2)
    run("keys", "remove", "no-such-key", code=1)


def wrong_passphrase(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        patch.setenv(PASSPHRASE_VARIABLE, WRONG_PASSPHRASE)
        run("keys", "verify", code=1)
        run(
            "--verbose",
            "keys",
            "update",
            "main",
            "--stdin",
            stdin=exchange_key(),
            code=1,
        )
        run("security-report", "--json", code=3)


def internal_error(run: Run, monkeypatch: pytest.MonkeyPatch, home: Home) -> None:
    """A bug whose exception message carries the secrets: one line, nothing shown."""

    def broken(vault: key_vault.KeyVault) -> list[key_vault.RecordProblem]:
        _, material = vault.open("main")
        assert material.passphrase is not None
        raise RuntimeError(
            f"decoder choked on {material.secret.reveal()} "
            f"and {material.passphrase.reveal()}"
        )

    with monkeypatch.context() as patch:
        patch.setattr(key_vault.KeyVault, "verify_all", broken)
        quiet = run("keys", "verify", code=1)
        loud = run("--verbose", "keys", "verify", code=1)
    assert quiet.err.count("\n") == 1
    assert quiet.err.startswith("error: internal error (RuntimeError)")
    assert "Traceback" in loud.err
    assert "decoder choked on ********" in loud.err
    log = (home.logs / "crypto-trader.log").read_text()
    assert "decoder choked on ******** and ********" in log


def tampering(run: Run, home: Home) -> None:
    with sqlite3.connect(home.database) as conn:
        conn.execute("UPDATE api_keys SET permission = 'trading' WHERE label = 'main'")
    conn.close()
    verify = run("keys", "verify", code=3)
    assert "'main'" in verify.err
    run("security-report", code=3)
    run("security-report", "--json", code=3)
    run("keys", "remove", "main")
    run("keys", "remove", "cdp")
    with sqlite3.connect(home.database) as conn:
        conn.execute("UPDATE audit_log SET user_id = 'mallory' WHERE seq = 2")
    conn.close()
    run("audit", "verify", code=3)


def test_no_command_or_error_path_leaks_a_secret(
    run: tuple[Run, list[Outcome]],
    home: Home,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    invoke, seen = run
    export = tmp_path / "audit.jsonl"

    invoke("init")
    # An open connection keeps the WAL and shared-memory files from being removed
    # when each command closes the database, so their bytes get scanned too.
    keeper = sqlite3.connect(home.database)
    try:
        keeper.execute("SELECT count(*) FROM meta").fetchone()
        add_keys(invoke)
        secrets = [*CANARIES, PASSPHRASE, assert_stored(home)]
        everyday_commands(invoke, export)
        secrets.append(assert_stored(home))
        assert sidecar_sizes(home) > 0
        assert file_leaks(home.root, secrets) == []
        mistakes(invoke)
        wrong_passphrase(invoke, monkeypatch)
        internal_error(invoke, monkeypatch, home)
        tampering(invoke, home)
        assert sidecar_sizes(home) > 0
        assert file_leaks(home.root, secrets) == []
    finally:
        keeper.close()

    printed = "".join(o.out + o.err for o in seen)
    assert len(seen) > 40
    assert "warning:" in printed
    assert secrets[-1] != secrets[-2]  # rotated
    assert text_leaks(printed, [*secrets, WRONG_PASSPHRASE]) == []
    assert file_leaks(home.root, [*secrets, WRONG_PASSPHRASE]) == []
    assert file_leaks(export, secrets) == []
    assert export.stat().st_size > 0


def sidecar_sizes(home: Home) -> int:
    wal, shm = (
        home.database.with_name(home.database.name + s) for s in ("-wal", "-shm")
    )
    return wal.stat().st_size * shm.stat().st_size


@pytest.mark.parametrize(
    ("options", "stdin"),
    [
        (("--label", "a"), exchange_key()[:-3]),
        (("--label", "a"), json.dumps([CANARY_SECRET, CANARY_PASSPHRASE])),
        (("--label", "a"), exchange_key(secret=[CANARY_SECRET])),
        (("--label", "a"), exchange_key(api_key="")),
        (("--label", "a"), exchange_key(secret="x" * 20_000)),
        (("--label", "a" * 65), exchange_key()),
        (("--label", "a", "--permission", "admin"), exchange_key()),
        (("--label", "a", "--exchange", "no-such-exchange"), exchange_key()),
    ],
)
def test_a_refused_key_is_never_echoed(
    cli: CliRunner,
    home: Home,
    monkeypatch: pytest.MonkeyPatch,
    options: tuple[str, ...],
    stdin: str,
) -> None:
    """With no secret known to the redactor, only not echoing can keep it out."""
    monkeypatch.setattr(redactions, "_values", set())
    args = ("keys", "add", "--exchange", "binance", *options, "--stdin")

    refused = cli(*args, stdin=stdin)

    assert refused.code == 2
    assert refused.err.startswith("error: ")
    assert refused.err.count("\n") == 1
    assert text_leaks(refused.out + refused.err, CANARIES) == []
    assert file_leaks(home.root, CANARIES) == []


def test_the_scan_finds_a_canary_in_every_form(tmp_path: Path) -> None:
    """Guard against a scan that can never fire."""
    import base64

    raw = CANARY_SECRET.encode()
    samples = [
        raw,
        raw.hex().encode(),
        b"x" + base64.b64encode(b"ab" + raw),
        base64.urlsafe_b64encode(b"a" + raw + b"tail"),
    ]
    for number, sample in enumerate(samples):
        (tmp_path / f"f{number}").write_bytes(b"head" + sample + b"tail")
    assert len(file_leaks(tmp_path, [CANARY_SECRET])) == len(samples)
    wrapped = "│ CANARY-5ecret-7f3a9c │\n│ 1e-do-not-leak     │"
    assert text_leaks(wrapped, [CANARY_SECRET]) == [CANARY_SECRET]


@pytest.mark.slow
def test_a_child_process_reads_the_key_from_stdin_only(tmp_path: Path) -> None:
    home = tmp_path / "child-home"
    args = ["keys", "add", "--exchange", "binance", "--label", "child", "--stdin"]
    env = child_env(
        CRYPTO_TRADER_HOME=str(home),
        CRYPTO_TRADER_KEY_STORE="file",
        CRYPTO_TRADER_KEY_PASSPHRASE=PASSPHRASE,
    )
    assert not any(c in arg for arg in args for c in CANARIES)
    assert not any(c in value for value in env.values() for c in CANARIES)

    done = run_process(*args, env=env, stdin=exchange_key())

    assert done.returncode == 0, done.stderr
    assert text_leaks(done.stdout + done.stderr, CANARIES) == []
    assert file_leaks(home, CANARIES) == []
    opened = Installation.open(Home(home), fixed_passphrase)
    try:
        assert opened.vault.open("child")[1].secret.reveal() == CANARY_SECRET
    finally:
        opened.close()
