from __future__ import annotations

from tests.conftest import CANARY_SECRET
from tests.support.cli import CliRunner


def test_add_list_and_verify_round_trip(cli: CliRunner) -> None:
    key = '{"api_key": "AKIAEXAMPLEKEY12345678", "secret": "%s"}' % CANARY_SECRET
    added = cli(
        "keys", "add", "--exchange", "binance", "--label", "main", "--stdin", stdin=key
    )
    assert added.code == 0, added.err
    listed = cli("keys", "list", "--json")
    assert '"api_key_hint": "AKIA…5678"' in listed.out
    assert cli("audit", "verify").code == 0
    assert CANARY_SECRET not in added.out + added.err + listed.out
