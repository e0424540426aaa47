"""Key material reaches ccxt for one session only and never its debug output."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from crypto_trader.installation import Installation
from crypto_trader.vault.key_record import Permission
from tests.exchanges.conftest import Sleeps, add_key_cli, door_for, store
from tests.support.cli import CliRunner
from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin


def test_closing_the_door_drops_the_key_from_the_client(
    trusting: Installation, binance: BinanceStandin, sleeps: Sleeps
) -> None:
    key = binance.add_key(BinanceKey.generate())
    store(trusting, "r", key, Permission.READ_ONLY)
    door = door_for(trusting, "r", sleeps)
    with door:
        door.read("fetch_balance", lambda c: c.fetch_balance())
        client = door.client
        assert client.apiKey == key.api_key  # the session did use it

    assert (client.apiKey, client.secret) == ("", "")
    assert key.secret not in repr(vars(client))


def test_verbose_balance_never_logs_the_key(
    trusting_cli: CliRunner,
    binance: BinanceStandin,
    home_logs: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = binance.add_key(BinanceKey.generate())
    binance.deposit("USDT", "5")
    assert add_key_cli(trusting_cli, "r", key, "read-only", "--no-check").code == 0

    caplog.set_level(logging.DEBUG)  # every logger, ccxt's included
    outcome = trusting_cli("--verbose", "balance", "--key", "r")

    assert outcome.code == 0, outcome.err
    logs = "".join(
        p.read_text(errors="replace") for p in Path(home_logs).rglob("*") if p.is_file()
    )
    assert "DEBUG" in logs  # the file logged this session at debug level
    ccxt_debug = [
        r
        for r in caplog.records
        if r.name.startswith("ccxt") and r.levelno < logging.WARNING
    ]
    assert ccxt_debug == []  # ccxt's request log, headers and all, stays off
    shown = outcome.out + outcome.err + logs + caplog.text
    assert key.api_key not in shown
    assert key.secret not in shown
    assert "X-MBX-APIKEY" not in shown
