"""Hostile text in any field is stored literally and never forges or splits a record."""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from typing import Any

import pytest

from crypto_trader.audit.events import MAX_VALUE_CHARS, EventType
from crypto_trader.installation import Installation
from crypto_trader.vault.secrets import SecretStr
from tests.audit.conftest import Opener
from tests.audit.tampering import audit_rows
from tests.support.cli import CliRunner

FORGED_LINE = '\r\n{"event_type":"FAKE","user_id":"root","details":{}}\n'
HOSTILE = {
    "newlines": "line one\nline two\rline three\r\n",
    "quotes": 'double " single \' back \\ slash \\" escaped',
    "forged line": FORGED_LINE,
    "ansi escapes": "\x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b[2J",
    "control characters": "".join(map(chr, range(1, 32))) + "\x7f\x85\x9b",
    "unicode separators": "a\u2028b\u2029c\u0085d\ufeffe\u202ef",
    "sql drop": "'; DROP TABLE api_keys; --",
    "sql or": '" OR 1=1 --',
    "100 KB": "A" * 100_000,
}
SQL_LABELS = ["'; DROP TABLE api_keys; --", '" OR 1=1 --', "x' OR '1'='1"]
KEY_JSON = '{"api_key": "AKIAEXAMPLEKEY12345678", "secret": "s3cret-value-1234"}'


def export_objects(cli: CliRunner) -> tuple[list[dict[str, Any]], str]:
    outcome = cli("audit", "export")
    assert outcome.code == 0, outcome.err
    lines = outcome.out.split("\n")
    assert lines[-1] == ""
    # A reader splitting on any Unicode line break sees the same records.
    assert outcome.out.splitlines() == lines[:-1]
    return [json.loads(line) for line in lines[:-1]], outcome.out


def expected_value(text: str) -> str:
    if len(text) <= MAX_VALUE_CHARS:
        return text
    return text[:MAX_VALUE_CHARS] + "…(truncated)"


def test_hostile_details_are_stored_literally_one_record_each(
    installation: Installation, cli: CliRunner
) -> None:
    installation.custody.unlock()
    for name, text in HOSTILE.items():
        installation.audit.record(
            EventType.ERROR, {"case": name, "message": text, text[:80]: "as a key"}
        )

    objects, raw = export_objects(cli)

    assert len(objects) == len(audit_rows(installation.home)) == 1 + len(HOSTILE)
    assert {o["event_type"] for o in objects} == {"MASTER_KEY_CHANGED", "ERROR"}
    assert {o["user_id"] for o in objects} == {"tester"}
    for obj, (name, text) in zip(objects[1:], HOSTILE.items(), strict=True):
        assert obj["details"]["case"] == name
        assert obj["details"]["message"] == expected_value(text)
        assert obj["details"][text[:64]] == "as a key"
    assert raw.isascii()
    assert installation.verify_audit().ok


def test_long_values_are_truncated_and_bounded(installation: Installation) -> None:
    installation.audit.record(
        EventType.ERROR,
        {"k" * 10_000: "v", "list": ["x" * 5000] * 1000, "nested": {"n": "y" * 5000}},
    )

    (details,) = [r.details for r in installation.audit.records()]
    stored = audit_rows(installation.home)[-1][4]

    assert set(details) == {"k" * 64, "list", "nested"}
    assert len(details["list"]) == 64
    assert details["list"][0] == "x" * MAX_VALUE_CHARS + "…(truncated)"
    assert details["nested"]["n"] == "y" * MAX_VALUE_CHARS + "…(truncated)"
    assert len(stored) < 100_000


def test_hostile_user_id_is_stored_literally(open_home: Opener, cli: CliRunner) -> None:
    hostile = 'eve\n{"event_type":"FAKE"}\x1b[2J'
    installation = open_home(user_id=hostile)
    installation.custody.unlock()

    objects, _ = export_objects(cli)

    assert [o["user_id"] for o in objects] == [hostile]
    assert [o["event_type"] for o in objects] == ["MASTER_KEY_CHANGED"]


@pytest.mark.parametrize("label", SQL_LABELS)
def test_sql_injection_labels_are_stored_literally(cli: CliRunner, label: str) -> None:
    add = ("keys", "add", "--exchange", "binance", "--stdin")
    assert cli(*add, "--label", "innocent", stdin=KEY_JSON).code == 0
    added = cli(*add, "--label", label, stdin=KEY_JSON)

    changed = cli("keys", "set-permission", label, "trading")
    listed = json.loads(cli("keys", "list", "--json").out)
    objects, _ = export_objects(cli)

    assert added.code == 0, added.err
    assert changed.code == 0, changed.err
    assert {k["label"]: k["permission"] for k in listed} == {
        "innocent": "read-only",
        label: "trading",
    }
    assert [o["details"].get("label") for o in objects[-2:]] == [label, label]
    assert cli("audit", "verify").code == 0


def test_sql_injection_in_a_lookup_matches_nothing(cli: CliRunner, home: Any) -> None:
    add = ("keys", "add", "--exchange", "binance", "--stdin", "--label", "main")
    assert cli(*add, stdin=KEY_JSON).code == 0

    removed = cli("keys", "remove", "x' OR '1'='1")

    assert removed.code == 1
    assert "no key labelled" in removed.err
    conn = sqlite3.connect(home.database)
    try:
        assert conn.execute("SELECT label FROM api_keys").fetchall() == [("main",)]
    finally:
        conn.close()


@pytest.mark.parametrize(
    "text",
    [
        text
        for name, text in HOSTILE.items()
        if name not in ("quotes", "sql drop", "sql or")
    ],
)
def test_hostile_labels_are_refused_with_one_line(
    cli: CliRunner, installation: Installation, text: str
) -> None:
    label = f"key {text} end"  # inside the label, where stripping cannot help
    installation.custody.unlock()
    before = audit_rows(installation.home)

    outcome = cli(
        "keys",
        "add",
        "--exchange",
        "binance",
        "--stdin",
        "--label",
        label,
        stdin=KEY_JSON,
    )

    assert outcome.code == 2
    assert len(outcome.err.strip().splitlines()) == 1
    assert len(outcome.err) < 300
    assert "\x1b" not in outcome.err
    assert audit_rows(installation.home) == before
    assert installation.vault.records() == []


def test_hostile_exchange_is_refused_without_echoing_raw_control_characters(
    cli: CliRunner,
) -> None:
    outcome = cli(
        "keys",
        "add",
        "--exchange",
        FORGED_LINE + "\x1b[31m",
        "--label",
        "main",
        "--stdin",
        stdin=KEY_JSON,
    )

    assert outcome.code == 2
    assert len(outcome.err.strip().splitlines()) == 1
    assert "unknown exchange" in outcome.err
    assert "\x1b" not in outcome.err


def _raw_controls(text: str) -> set[str]:
    return {
        ch
        for ch in text
        if ch != "\n" and unicodedata.category(ch) in ("Cc", "Zl", "Zp")
    }


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "table"])
def test_audit_show_prints_no_raw_control_characters(
    open_home: Opener, cli: CliRunner, as_json: bool
) -> None:
    installation = open_home(user_id="eve\x1b[2J\x9b")
    installation.custody.unlock()
    installation.audit.record(
        EventType.ERROR, {"message": HOSTILE["control characters"]}
    )

    outcome = cli("audit", "show", *(["--json"] if as_json else []))

    assert outcome.code == 0
    assert _raw_controls(outcome.out) == set()


def test_secrets_never_reach_the_audit_log_in_any_form(
    installation: Installation,
) -> None:
    secret = SecretStr('Zq9#ä€"\\-canary-Zq9')
    text = secret.reveal()
    installation.audit.record(
        EventType.ERROR,
        {
            "plain": f"before {text} after",
            "straddling": "a" * (MAX_VALUE_CHARS - 4) + text,
            text: "as a key",
        },
    )

    stored = audit_rows(installation.home)[-1][4]
    escaped = json.dumps(text)[1:-1]

    assert text not in stored
    assert escaped not in stored
    assert escaped[:4] not in stored
    assert json.loads(stored)["plain"] == "before ******** after"
