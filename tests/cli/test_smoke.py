from __future__ import annotations

import json

from tests.conftest import CANARY_SECRET
from tests.support.cli import CliRunner


def test_add_list_and_verify_round_trip(cli: CliRunner) -> None:
    key = json.dumps({"api_key": "AKIAEXAMPLEKEY12345678", "secret": CANARY_SECRET})
    added = cli(
        "keys", "add", "--exchange", "binance", "--label", "main", "--stdin", stdin=key
    )
    assert added.code == 0, added.err
    listed = cli("keys", "list", "--json")
    assert json.loads(listed.out)[0]["api_key_hint"] == "AKIA…5678"
    assert cli("audit", "verify").code == 0
    assert CANARY_SECRET not in added.out + added.err + listed.out


def test_every_key_change_is_anchored_by_the_signed_head(cli: CliRunner) -> None:
    key = json.dumps({"api_key": "AKIAEXAMPLEKEY12345678", "secret": CANARY_SECRET})
    add = ("keys", "add", "--exchange", "binance", "--label", "main", "--stdin")
    add += ("--no-check",)
    assert cli(*add, stdin=key).code == 0
    assert cli("keys", "set-permission", "main", "trading").code == 0
    assert cli("config", "set", "security.key_max_age_days", "30").code == 0

    removed = cli("keys", "remove", "main")
    verified = cli("audit", "verify")

    assert removed.out == "removed main\n"
    assert verified.out == "audit log verified: 5 records, chain intact\n"
