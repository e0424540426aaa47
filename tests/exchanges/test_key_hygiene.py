"""`keys check` and `keys add` read a key's real rights and say what to change."""

from __future__ import annotations

import json

import pytest

from crypto_trader.exchanges import sessions
from crypto_trader.exchanges.door import DoorSettings
from tests.exchanges.conftest import Sleeps, add_key_cli
from tests.support.cli import CliRunner
from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin
from tests.support.exchange_standins.coinbase import CoinbaseStandin
from tests.support.exchange_standins.coinbase_auth import CoinbaseKey
from tests.support.exchange_standins.failures import Disconnect

RIGHTS = "/sapi/v1/account/apiRestrictions"


def checks_audited(cli: CliRunner) -> list[dict[str, object]]:
    shown = cli("audit", "show", "--type", "API_KEY_CHECKED", "--json")
    assert shown.code == 0, shown.err
    return [r["details"] for r in json.loads(shown.out)]


def labels(cli: CliRunner) -> list[str]:
    return [k["label"] for k in json.loads(cli("keys", "list", "--json").out)]


def test_withdrawal_rights_refused_unless_allowed(
    trusting_cli: CliRunner, binance: BinanceStandin
) -> None:
    key = binance.add_key(BinanceKey.generate(can_withdraw=True, ip_restrict=True))

    added = add_key_cli(trusting_cli, "w", key, "read-only")
    assert added.code == 3, added.err
    assert "--allow-withdrawal-rights" in added.err
    assert labels(trusting_cli) == []

    assert add_key_cli(trusting_cli, "w", key, "read-only", "--no-check").code == 0
    refused = trusting_cli("keys", "check", "w")
    allowed = trusting_cli("keys", "check", "w", "--allow-withdrawal-rights", "--json")

    assert refused.code == 3, refused.err
    assert "withdraw" in refused.err
    assert labels(trusting_cli) == ["w"]  # `keys check` never removes a key
    assert allowed.code == 0, allowed.err
    assert json.loads(allowed.out)["status"] == "warning"
    statuses = [d["status"] for d in checks_audited(trusting_cli)]
    assert statuses == ["refused", "refused", "warning"]


def test_read_only_key_that_can_trade_and_has_no_ip_whitelist_gets_warnings(
    trusting_cli: CliRunner, binance: BinanceStandin
) -> None:
    key = binance.add_key(BinanceKey.generate(can_trade=True, ip_restrict=False))

    added = add_key_cli(trusting_cli, "r", key, "read-only")

    assert added.code == 0, added.err
    assert "remove its trading right on the exchange" in added.err
    assert "no IP whitelist" in added.err
    assert len(checks_audited(trusting_cli)) == 1


def test_well_configured_key_checks_ok(
    trusting_cli: CliRunner, binance: BinanceStandin
) -> None:
    key = binance.add_key(BinanceKey.generate(can_trade=True, ip_restrict=True))

    added = add_key_cli(trusting_cli, "t", key, "trading")

    assert added.code == 0, added.err
    assert "key check: ok" in added.out
    assert "warning" not in added.err


def test_coinbase_key_that_can_transfer_is_refused(
    trusting_cli: CliRunner, coinbase: CoinbaseStandin
) -> None:
    key = coinbase.add_key(CoinbaseKey.generate(can_trade=True, can_transfer=True))

    added = add_key_cli(trusting_cli, "cb", key, "trading")

    assert added.code == 3, added.err
    assert labels(trusting_cli) == []
    (audited,) = checks_audited(trusting_cli)
    assert audited["status"] == "refused"


def test_unreachable_exchange_leaves_the_check_pending_and_a_later_check_works(
    trusting_cli: CliRunner,
    binance: BinanceStandin,
    monkeypatch: pytest.MonkeyPatch,
    sleeps: Sleeps,
) -> None:
    monkeypatch.setattr(sessions.open_keyed_door, "__defaults__", (False, sleeps))
    key = binance.add_key(BinanceKey.generate(ip_restrict=True))
    attempts = DoorSettings().read_attempts
    binance.inject(Disconnect(), times=attempts, path=RIGHTS)

    added = add_key_cli(trusting_cli, "p", key, "read-only")
    assert added.code == 0, added.err
    assert "pending" in added.err
    assert labels(trusting_cli) == ["p"]
    assert len(sleeps) == attempts - 1
    assert len(binance.requests_to(RIGHTS, "GET")) == attempts
    pending = json.loads(trusting_cli("security-report", "--json").out)

    binance.reset_log()
    later = trusting_cli("keys", "check", "p", "--json")
    report = json.loads(trusting_cli("security-report", "--json").out)

    assert later.code == 0, later.err
    assert json.loads(later.out)["status"] == "ok"
    assert len(binance.requests_to(RIGHTS, "GET")) == 1
    assert [d["status"] for d in checks_audited(trusting_cli)] == ["pending", "ok"]
    (before,) = pending["keys"]
    (after,) = report["keys"]
    assert before["last_check"]["status"] == "pending"
    assert after["last_check"]["status"] == "ok"
    assert report["extra_ca_file"] is not None
