"""`audit show` and `audit export`: the specification's shape, filters and refusals."""

from __future__ import annotations

import json
import os
import pwd
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import Permission
from tests.audit.conftest import demo_material
from tests.conftest import FixedClock
from tests.support.cli import CliRunner

SPEC_FIELDS = {"timestamp", "event_type", "user_id", "details"}


@pytest.fixture
def dated(installation: Installation, clock: FixedClock) -> Installation:
    """Five records at known times around 2024-01-31."""
    clock.now = datetime(2024, 1, 30, 23, 59, 59, tzinfo=UTC)
    installation.custody.unlock()
    clock.now = datetime(2024, 1, 31, 0, 0, 0, tzinfo=UTC)
    installation.vault.add("main", "binance", Permission.READ_ONLY, demo_material())
    clock.now = datetime(2024, 1, 31, 12, 0, 0, tzinfo=UTC)
    installation.vault.set_permission("main", Permission.TRADING)
    clock.now = datetime(2024, 1, 31, 12, 0, 1, tzinfo=UTC)
    installation.settings.set("security.key_max_age_days", "30")
    clock.now = datetime(2024, 2, 1, 0, 0, 0, tzinfo=UTC)
    installation.audit.record_error({"operation": "demo", "error": "Demo"})
    return installation


def show(cli: CliRunner, *options: str) -> list[dict[str, Any]]:
    outcome = cli("audit", "show", "--json", *options)
    assert outcome.code == 0, outcome.err
    shown = json.loads(outcome.out)
    assert isinstance(shown, list)
    return shown


def times(records: list[dict[str, Any]]) -> list[str]:
    return [r["timestamp"] for r in records]


def test_show_json_is_an_array_in_the_specification_shape(
    dated: Installation, cli: CliRunner
) -> None:
    shown = show(cli)

    assert [r["event_type"] for r in shown] == [
        "MASTER_KEY_CHANGED",
        "API_KEY_CHANGED",
        "PERMISSION_CHANGED",
        "CONFIGURATION_CHANGED",
        "ERROR",
    ]
    assert all(set(r) >= SPEC_FIELDS for r in shown)
    assert all(isinstance(r["details"], dict) for r in shown)
    assert {r["user_id"] for r in shown} == {"tester"}
    assert (
        shown[2]["details"] | {"old": "read-only", "new": "trading"}
        == shown[2]["details"]
    )
    assert times(shown)[1] == "2024-01-31T00:00:00Z"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (("--type", "PERMISSION_CHANGED"), ["2024-01-31T12:00:00Z"]),
        (("--type", "error"), ["2024-02-01T00:00:00Z"]),
        (
            ("--since", "2024-01-31"),
            [
                "2024-01-31T00:00:00Z",
                "2024-01-31T12:00:00Z",
                "2024-01-31T12:00:01Z",
                "2024-02-01T00:00:00Z",
            ],
        ),
        (
            ("--since", "2024-01-31T12:00:00Z"),
            ["2024-01-31T12:00:00Z", "2024-01-31T12:00:01Z", "2024-02-01T00:00:00Z"],
        ),
        (
            ("--since", "2024-01-31T12:00:01Z"),
            ["2024-01-31T12:00:01Z", "2024-02-01T00:00:00Z"],
        ),
        (("--since", "2024-02-02"), []),
        (("--limit", "2"), ["2024-01-31T12:00:01Z", "2024-02-01T00:00:00Z"]),
        (("--limit", "1", "--type", "API_KEY_CHANGED"), ["2024-01-31T00:00:00Z"]),
        (
            ("--since", "2024-01-31", "--limit", "100"),
            [
                "2024-01-31T00:00:00Z",
                "2024-01-31T12:00:00Z",
                "2024-01-31T12:00:01Z",
                "2024-02-01T00:00:00Z",
            ],
        ),
    ],
)
def test_show_filters(
    dated: Installation, cli: CliRunner, options: tuple[str, ...], expected: list[str]
) -> None:
    assert times(show(cli, *options)) == expected


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (("--type", "FAKE"), "--type"),
        (("--type", "ERROR\nAPI_KEY_CHANGED"), "--type"),
        (("--since", "yesterday"), "--since"),
        (("--since", "2024-13-01"), "--since"),
        (("--since", "2024-01-31T12:00:00"), "--since"),
        (("--since", "2024-01-31T12:00:00+02:00"), "--since"),
        (("--limit", "0"), "--limit"),
        (("--limit", "many"), "--limit"),
    ],
)
def test_show_refuses_bad_options_with_one_line(
    dated: Installation, cli: CliRunner, options: tuple[str, ...], named: str
) -> None:
    outcome = cli("audit", "show", "--json", *options)

    assert outcome.code == 2
    assert outcome.out == ""
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1
    assert named in lines[0]


def test_show_table_lists_every_record(dated: Installation, cli: CliRunner) -> None:
    outcome = cli("audit", "show")

    assert outcome.code == 0
    for event in ("MASTER_KEY_CHANGED", "PERMISSION_CHANGED", "ERROR"):
        assert event in outcome.out


def test_export_writes_a_private_file_of_json_lines(
    dated: Installation, cli: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "audit.jsonl"
    target.write_text("stale\n")
    target.chmod(0o666)

    outcome = cli("audit", "export", "--output", str(target))
    to_stdout = cli("audit", "export")

    assert outcome.code == 0, outcome.err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    text = target.read_text(encoding="ascii")
    assert text == to_stdout.out
    objects = [json.loads(line) for line in text.splitlines()]
    assert len(objects) == 5
    assert all(set(o) >= SPEC_FIELDS for o in objects)
    assert [o["seq"] for o in objects] == [1, 2, 3, 4, 5]
    assert "5 records" in outcome.out


def test_export_refuses_an_unwritable_output_with_one_line(
    dated: Installation, cli: CliRunner, tmp_path: Path
) -> None:
    outcome = cli("audit", "export", "--output", str(tmp_path / "missing" / "a.jsonl"))

    assert outcome.code != 0
    assert len(outcome.err.strip().splitlines()) == 1
    assert "Traceback" not in outcome.err


def test_user_id_is_the_os_account_in_the_command_line(cli: CliRunner) -> None:
    assert cli("config", "set", "security.key_max_age_days", "45").code == 0

    shown = show(cli)

    account = pwd.getpwuid(os.geteuid()).pw_name
    assert [r["user_id"] for r in shown] == [account, account]
    assert shown[-1]["event_type"] == "CONFIGURATION_CHANGED"
    assert shown[-1]["details"] == {
        "setting": "security.key_max_age_days",
        "old": 90,
        "new": 45,
    }
