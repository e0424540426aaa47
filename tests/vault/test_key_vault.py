"""Key records at rest: bound to themselves, refused when edited, exact round trips."""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto_trader.errors import IntegrityError, NotFoundError
from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.permissions import Operation
from crypto_trader.vault.key_record import Permission, seal, sign
from crypto_trader.vault.secrets import KeyMaterial, SecretStr
from crypto_trader.vault.validation import MAX_MATERIAL_BYTES
from tests.conftest import CANARY_SECRET
from tests.support.cli import CliRunner

LABELS = ("alpha", "bravo", "charlie")
REFUSAL = (
    "stored key 'bravo' failed verification and will not be used; "
    "run crypto-trader keys verify"
)
Tamper = Callable[[Installation], None]


def material(n: int) -> KeyMaterial:
    return KeyMaterial(
        SecretStr(f"AKIAEXAMPLEKEY{n:08d}"),
        SecretStr(f"{CANARY_SECRET}-{n}"),
        SecretStr(f"passphrase-{n}"),
    )


@pytest.fixture
def keys(installation: Installation) -> Installation:
    """Three stored keys; each test breaks one or two of them."""
    for n, label in enumerate(LABELS):
        installation.vault.add(label, "binance", Permission.READ_ONLY, material(n))
    return installation


def relabel(home: Home, old: str, new: str) -> None:
    execute(
        home,
        "UPDATE api_keys SET label = ?, label_key = ? WHERE label = ?",
        new,
        new,
        old,
    )


def execute(home: Home, statement: str, *params: Any) -> None:
    conn = sqlite3.connect(home.database)
    try:
        with conn:
            conn.execute(statement, params)
    finally:
        conn.close()


def column(home: Home, name: str, label: str) -> Any:
    conn = sqlite3.connect(home.database)
    try:
        query = f"SELECT {name} FROM api_keys WHERE label = ?"  # noqa: S608
        return conn.execute(query, (label,)).fetchone()[0]
    finally:
        conn.close()


def set_column(name: str, value: Callable[[Installation], Any]) -> Tamper:
    def tamper(inst: Installation) -> None:
        query = f"UPDATE api_keys SET {name} = ? WHERE label = 'bravo'"  # noqa: S608
        execute(inst.home, query, value(inst))

    return tamper


def flip_one_character(inst: Installation) -> None:
    text = column(inst.home, "ciphertext", "bravo")
    middle = len(text) // 2
    flipped = "A" if text[middle] != "A" else "B"
    execute(
        inst.home,
        "UPDATE api_keys SET ciphertext = ? WHERE label = 'bravo'",
        text[:middle] + flipped + text[middle + 1 :],
    )


def copy_from_alpha(*names: str) -> Tamper:
    def tamper(inst: Installation) -> None:
        for name in names:
            set_column(name, lambda i, n=name: column(i.home, n, "alpha"))(inst)

    return tamper


def resign_with_alphas_ciphertext(inst: Installation) -> None:
    # Even a MAC made with the real key cannot move a ciphertext to another record:
    # the encrypted payload names the record it belongs to.
    key = inst.custody.unlock()
    forged = sign(
        replace(inst.vault.get("bravo"), ciphertext=inst.vault.get("alpha").ciphertext),
        key,
    )
    execute(
        inst.home,
        "UPDATE api_keys SET ciphertext = ?, mac = ? WHERE label = 'bravo'",
        forged.ciphertext,
        forged.mac,
    )


def seal_for_another_record(inst: Installation) -> None:
    key = inst.custody.unlock()
    bravo = inst.vault.get("bravo")
    forged = sign(
        replace(bravo, ciphertext=seal("someone-else", material(9), key)), key
    )
    execute(
        inst.home,
        "UPDATE api_keys SET ciphertext = ?, mac = ? WHERE label = 'bravo'",
        forged.ciphertext,
        forged.mac,
    )


TAMPERING: dict[str, Tamper] = {
    "flipped character": flip_one_character,
    "truncated ciphertext": set_column(
        "ciphertext", lambda i: column(i.home, "ciphertext", "bravo")[:-12]
    ),
    "empty ciphertext": set_column("ciphertext", lambda i: ""),
    "non-ascii ciphertext": set_column(
        "ciphertext", lambda i: column(i.home, "ciphertext", "bravo") + "é"
    ),
    "ciphertext copied without its mac": copy_from_alpha("ciphertext"),
    "ciphertext copied with its mac": copy_from_alpha("ciphertext", "mac"),
    "ciphertext, hint and mac copied": copy_from_alpha(
        "ciphertext", "api_key_hint", "mac"
    ),
    "ciphertext re-signed with the real key": resign_with_alphas_ciphertext,
    "sealed for another record id": seal_for_another_record,
    "permission edited": set_column("permission", lambda i: "trading"),
    "exchange edited": set_column("exchange", lambda i: "kraken"),
    "hint edited": set_column("api_key_hint", lambda i: "AKIA…0000"),
    "created_at edited": set_column("created_at", lambda i: "2020-01-01T00:00:00Z"),
    "mac edited": set_column("mac", lambda i: "0" * 64),
}


def assert_only_bravo_refused(keys: Installation, cli: CliRunner) -> None:
    with pytest.raises(IntegrityError) as opened:
        keys.vault.open("bravo")
    with pytest.raises(IntegrityError) as authentic:
        keys.vault.authentic("bravo")
    with pytest.raises(IntegrityError):
        keys.gate.check("bravo", Operation.READ, "fetch_balance")
    verified = cli("keys", "verify")

    # A decryption failure says nothing about why.
    assert str(opened.value) == str(authentic.value) == REFUSAL
    assert verified.code == 3
    lines = verified.err.strip().splitlines()
    assert len(lines) == 1
    assert "'bravo'" in lines[0]
    assert "alpha" not in verified.err + verified.out
    assert "charlie" not in verified.err + verified.out
    assert [p.label for p in keys.vault.verify_all()] == ["bravo"]
    for n, label in ((0, "alpha"), (2, "charlie")):
        assert keys.vault.open(label)[1] == material(n)
        keys.gate.check(label, Operation.READ, "fetch_balance")


@pytest.mark.parametrize("tamper", TAMPERING.values(), ids=TAMPERING)
def test_a_tampered_record_is_refused_and_named(
    keys: Installation, cli: CliRunner, tamper: Tamper
) -> None:
    before = keys.vault.get("bravo")
    tamper(keys)
    assert keys.vault.get("bravo") != before, "the tampering changed nothing"

    assert_only_bravo_refused(keys, cli)


def test_an_edited_label_is_refused_under_its_new_name(
    keys: Installation, cli: CliRunner
) -> None:
    relabel(keys.home, "bravo", "delta")

    with pytest.raises(IntegrityError):
        keys.vault.open("delta")
    verified = cli("keys", "verify")

    assert verified.code == 3
    assert "'delta'" in verified.err
    assert not any(name in verified.err for name in LABELS)


def test_swapped_labels_are_both_refused(keys: Installation, cli: CliRunner) -> None:
    relabel(keys.home, "alpha", "x")
    relabel(keys.home, "bravo", "alpha")
    relabel(keys.home, "x", "bravo")

    verified = cli("keys", "verify")

    assert verified.code == 3
    assert sorted(p.label for p in keys.vault.verify_all()) == ["alpha", "bravo"]
    assert "'alpha'" in verified.err
    assert "'bravo'" in verified.err
    assert "charlie" not in verified.err
    assert keys.vault.open("charlie")[1] == material(2)


def test_removing_an_unknown_label_on_a_fresh_home_makes_no_master_key(
    installation: Installation,
) -> None:
    with pytest.raises(NotFoundError):
        installation.vault.remove("nothing")

    assert installation.custody.fingerprint() is None
    assert not installation.home.master_key_file.exists()
    assert installation.audit.records() == []


def test_untouched_keys_verify(keys: Installation, cli: CliRunner) -> None:
    verified = cli("keys", "verify")

    assert verified.code == 0, verified.err
    assert "all 3 keys verified" in verified.out


def pem_private_key(line_ending: str = "\n") -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")
    return pem.replace("\n", line_ending)


@pytest.mark.parametrize("line_ending", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_coinbase_cdp_key_file_round_trips_byte_for_byte(
    cli: CliRunner, installation: Installation, line_ending: str
) -> None:
    pem = pem_private_key(line_ending)
    name = "organizations/x/apiKeys/y"
    key_file = json.dumps({"name": name, "privateKey": pem}, indent=2)

    added = cli(
        "keys",
        "add",
        "--exchange",
        "coinbase",
        "--label",
        "cdp",
        "--stdin",
        stdin=key_file,
    )
    record, opened = installation.vault.open("cdp")

    assert added.code == 0, added.err
    assert opened.secret.reveal().encode() == pem.encode()
    assert opened.api_key.reveal() == name
    assert opened.passphrase is None
    assert record.exchange == "coinbase"
    body_line = pem.splitlines()[1]
    stored = installation.home.database.read_bytes()
    wal = installation.home.database.with_name("crypto_trader.db-wal")
    stored += wal.read_bytes() if wal.exists() else b""
    assert body_line.encode() not in stored
    assert body_line not in added.out + added.err


_labels = itertools.count()
# At most 1,300 characters of at most 4 bytes per field: 3 fields stay under 16 KiB.
_text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=1300)
_line = st.text(st.characters(codec="utf-8"), min_size=1, max_size=300)
_lines = st.lists(_line, min_size=1, max_size=4).map("\n".join)
_field = st.one_of(_text, _lines, st.text("\n\r\t -~", min_size=1, max_size=200))


@settings(
    derandomize=True,
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(api_key=_field, secret=_field, passphrase=st.none() | _field)
def test_any_key_material_round_trips(
    installation: Installation, api_key: str, secret: str, passphrase: str | None
) -> None:
    given_material = KeyMaterial(
        SecretStr(api_key),
        SecretStr(secret),
        None if passphrase is None else SecretStr(passphrase),
    )
    assert sum(len(v.encode()) for v in (api_key, secret, passphrase or "")) <= (
        MAX_MATERIAL_BYTES
    )
    label = f"key-{next(_labels)}"

    installation.vault.add(label, "kraken", Permission.TRADING, given_material)
    _, opened = installation.vault.open(label)

    assert opened.api_key.reveal() == api_key
    assert opened.secret.reveal() == secret
    assert (None if opened.passphrase is None else opened.passphrase.reveal()) == (
        passphrase
    )
