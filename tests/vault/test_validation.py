"""Labels, exchange ids and key material: refused with one clear line, never echoed."""

from __future__ import annotations

import json
import time

import pytest

from crypto_trader.errors import InputError
from crypto_trader.exchange_ids import check_exchange
from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import Permission
from crypto_trader.vault.secrets import KeyMaterial, SecretStr
from crypto_trader.vault.validation import (
    MAX_LABEL_CHARS,
    MAX_MATERIAL_BYTES,
    check_material,
    label_key,
    normalize_label,
)
from tests.conftest import CANARY_SECRET
from tests.support.cli import CliRunner

KEY_JSON = json.dumps({"api_key": "AKIAEXAMPLEKEY12345678", "secret": CANARY_SECRET})


def material(
    secret: str = CANARY_SECRET, api_key: str = "AKIAEXAMPLE1234"
) -> KeyMaterial:
    return KeyMaterial(SecretStr(api_key), SecretStr(secret))


@pytest.mark.parametrize(
    ("label", "stored"),
    [
        ("a", "a"),
        ("a" * MAX_LABEL_CHARS, "a" * MAX_LABEL_CHARS),
        ("  main  ", "main"),
        ("ｍａｉｎ", "main"),
        ("a" * 63 + "e\u0301", "a" * 63 + "é"),  # 65 typed, 64 after NFKC
        ("key\u00a0one", "key one"),
        ("Binance — main (2024)", "Binance — main (2024)"),
        ("日本語のキー", "日本語のキー"),
        ("'; DROP TABLE api_keys; --", "'; DROP TABLE api_keys; --"),
    ],
)
def test_accepted_labels_are_stored_normalized(label: str, stored: str) -> None:
    assert normalize_label(label) == stored


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("", "1 to 64 characters, got 0"),
        ("   \t  ", "1 to 64 characters, got 0"),
        ("a" * (MAX_LABEL_CHARS + 1), "1 to 64 characters, got 65"),
        (
            "\ufb01" * 33,
            "1 to 64 characters, got 66",
        ),  # ligature fi: 33 typed, 66 after
        ("a" * 10_000, "1 to 64 characters, got 10000"),
        ("main\u200b", "control or invisible"),
        ("\u200bmain", "control or invisible"),
        ("\x1b[31mmain", "control or invisible"),
        ("ma\nin", "control or invisible"),
        ("ma\tin", "control or invisible"),
        ("ma\x00in", "control or invisible"),
        ("ma\x7fin", "control or invisible"),
        ("ma\x9bin", "control or invisible"),
        ("main\u202e", "control or invisible"),
        ("main\u2060", "control or invisible"),
        ("ma\ufeffin", "control or invisible"),
        ("ma\u00adin", "control or invisible"),
        ("main\U000e0041", "control or invisible"),
        ("main\ufe0f", "control or invisible"),
        ("main\u034f", "control or invisible"),
        ("main\u3164", "control or invisible"),
        ("main\u115f", "control or invisible"),
        ("main\ud800", "control or invisible"),
    ],
)
def test_refused_labels_say_what_to_fix(label: str, reason: str) -> None:
    with pytest.raises(InputError) as refused:
        normalize_label(label)

    message = str(refused.value)
    assert reason in message
    assert "\n" not in message
    assert len(message) < 200


def test_a_huge_label_is_refused_quickly() -> None:
    start = time.perf_counter()
    for size in (10_000, 1_000_000):
        with pytest.raises(InputError):
            normalize_label("x" * size)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("main", "MAIN"),
        ("main", "Main"),
        ("main", "ｍａｉｎ"),
        ("main", "ＭＡＩＮ"),
        ("main", " main "),
        ("strasse", "STRASSE"),
        ("straße", "STRASSE"),
        ("ﬁle", "file"),
        ("key one", "key\u00a0one"),
    ],
)
def test_look_alikes_and_case_variants_collide(
    installation: Installation, first: str, second: str
) -> None:
    installation.vault.add(first, "binance", Permission.READ_ONLY, material())

    with pytest.raises(InputError, match="already exists"):
        installation.vault.add(second, "kraken", Permission.TRADING, material())

    assert label_key(normalize_label(first)) == label_key(normalize_label(second))
    assert installation.vault.get(second).label == normalize_label(first)
    assert len(installation.vault.records()) == 1


def test_duplicate_on_the_command_line_is_one_line(cli: CliRunner) -> None:
    add = ("keys", "add", "--exchange", "binance", "--stdin", "--label")
    assert cli(*add, "main", stdin=KEY_JSON).code == 0

    outcome = cli(*add, "ｍａｉｎ", stdin=KEY_JSON)

    assert outcome.code == 2
    assert len(outcome.err.strip().splitlines()) == 1
    assert "already exists" in outcome.err


@pytest.mark.parametrize("label", ["", "a" * 65, "x" * 10_000, "bad\u200blabel"])
def test_bad_label_on_the_command_line_is_one_line(cli: CliRunner, label: str) -> None:
    outcome = cli(
        "keys",
        "add",
        "--exchange",
        "binance",
        "--label",
        label,
        "--stdin",
        stdin=KEY_JSON,
    )

    assert outcome.code == 2
    assert len(outcome.err.strip().splitlines()) == 1
    assert len(outcome.err) < 300
    assert CANARY_SECRET not in outcome.err + outcome.out


@pytest.mark.parametrize("exchange", ["binance", "Binance", " kraken ", "coinbase"])
def test_known_exchanges_are_accepted(exchange: str) -> None:
    assert check_exchange(exchange) == exchange.strip().lower()


@pytest.mark.parametrize(
    "exchange",
    ["", "notanexchange", "binance\nx", "bin ance", "../binance", "x" * 5000],
)
def test_unknown_exchange_is_refused_with_a_hint(exchange: str) -> None:
    with pytest.raises(InputError) as refused:
        check_exchange(exchange)

    message = str(refused.value)
    assert "unknown exchange" in message
    assert "coinbase, binance or kraken" in message
    assert "\n" not in message
    assert len(message) < 200


def test_unknown_exchange_on_the_command_line_is_one_line(cli: CliRunner) -> None:
    outcome = cli(
        "keys",
        "add",
        "--exchange",
        "mtgox",
        "--label",
        "main",
        "--stdin",
        stdin=KEY_JSON,
    )

    assert outcome.code == 2
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1
    assert "unknown exchange 'mtgox'" in lines[0]
    assert "binance" in lines[0]


def test_material_at_the_limit_is_accepted_and_one_byte_more_refused() -> None:
    api_key = "AKIAEXAMPLE1234"
    at_limit = "s" * (MAX_MATERIAL_BYTES - len(api_key))

    check_material(material(at_limit, api_key))
    with pytest.raises(InputError, match="more than the 16384 allowed") as refused:
        check_material(material(at_limit + "s", api_key))

    assert "s" * 20 not in str(refused.value)


def test_material_size_counts_utf8_bytes_not_characters() -> None:
    secret = "é" * (MAX_MATERIAL_BYTES // 2)  # 8192 characters, 16384 bytes

    with pytest.raises(InputError) as refused:
        check_material(material(secret))

    assert "é" not in str(refused.value)


def test_a_passphrase_counts_towards_the_limit() -> None:
    half = "p" * (MAX_MATERIAL_BYTES // 2)
    oversized = KeyMaterial(SecretStr("AKIA"), SecretStr(half), SecretStr(half))

    with pytest.raises(InputError, match="more than"):
        check_material(oversized)


@pytest.mark.parametrize(
    ("api_key", "secret"), [("", CANARY_SECRET), ("AKIAEXAMPLE1234", "")]
)
def test_empty_key_parts_are_refused(api_key: str, secret: str) -> None:
    with pytest.raises(InputError, match="required") as refused:
        check_material(material(secret, api_key))

    assert CANARY_SECRET not in str(refused.value)


def test_oversized_material_is_refused_by_the_vault_and_stores_nothing(
    installation: Installation,
) -> None:
    huge = CANARY_SECRET * (MAX_MATERIAL_BYTES // len(CANARY_SECRET) + 1)

    with pytest.raises(InputError) as refused:
        installation.vault.add("main", "binance", Permission.READ_ONLY, material(huge))

    assert CANARY_SECRET not in str(refused.value)
    assert installation.vault.records() == []
    assert installation.audit.records() == []


@pytest.mark.parametrize(
    "stdin",
    [
        KEY_JSON[:-1],
        json.dumps([CANARY_SECRET]),
        json.dumps({"api_key": "AKIAEXAMPLE1234", "secret": [CANARY_SECRET]}),
        json.dumps({"api_key": CANARY_SECRET}),
        json.dumps({"api_key": "AKIA", "secret": CANARY_SECRET * 1000}),
        json.dumps({"name": "organizations/x", "privateKey": 7, "x": CANARY_SECRET}),
    ],
    ids=["truncated", "array", "secret not text", "no secret", "oversized", "cdp"],
)
def test_refused_key_input_never_echoes_the_secret(cli: CliRunner, stdin: str) -> None:
    outcome = cli(
        "keys",
        "add",
        "--exchange",
        "binance",
        "--label",
        "main",
        "--stdin",
        stdin=stdin,
    )

    assert outcome.code == 2
    assert len(outcome.err.strip().splitlines()) == 1
    assert CANARY_SECRET not in outcome.err + outcome.out
    assert CANARY_SECRET[:12] not in outcome.err
