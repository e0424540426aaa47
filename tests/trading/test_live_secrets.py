"""The no-leak guarantee for live trading: the secret a runner signs with shows
up nowhere it prints or writes.

A live session on the Binance stand-in signs every request with a canary secret,
logs at DEBUG, buys, and then has its trading right withdrawn at the exchange, so
the authentication failure path runs too. Everything the runner and the commands
around it printed is searched, and so are the raw bytes of every file in the home
(the database, with its WAL while the runner is up, the logs, the audit head)
and an audit export.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

import pytest

from tests.cli.leak_scan import file_leaks, text_leaks
from tests.conftest import CANARY_SECRET
from tests.support.exchange_standins.binance import BinanceKey
from tests.trading.conftest import audit_details
from tests.trading.live_support import HIGH, LOW, LiveRig

# A secret of Binance's length (64 characters) that starts with the canary.
SECRET = CANARY_SECRET + "0" * (64 - len(CANARY_SECRET))


@pytest.fixture
def live_key() -> BinanceKey:
    return BinanceKey(secrets.token_hex(32), SECRET, can_trade=True)


@pytest.mark.slow
def test_a_live_session_never_shows_the_secret_it_signs_with(
    rig: LiveRig, tmp_path: Path
) -> None:
    debug = rig.cli("config", "set", "logging.level", "DEBUG")
    assert debug.code == 0, debug.err
    rig.start()
    rig.wait_ready()
    rig.step(LOW)  # a buy, signed with the secret
    # While the runner is up its WAL holds the newest pages: scan them too.
    wal = Path(f"{rig.home.database}-wal")
    assert wal.stat().st_size > 0
    assert file_leaks(rig.home.root, [CANARY_SECRET]) == []
    (api_key,) = rig.binance.keys
    rig.binance.keys[api_key] = replace(rig.binance.keys[api_key], can_trade=False)
    rig.market.release(HIGH)  # the sell is refused by the exchange
    out, err = rig.finish()

    assert rig.exit_code not in (None, 0), err
    (buy, sell) = rig.orders()
    assert (buy["state"], sell["state"]) == ("filled", "rejected")
    assert audit_details(rig.home, "ERROR"), "the failure path did not run"
    printed = [out, err]
    for args in (("trade", "status"), ("trade", "status", "--json")):
        shown = rig.cli(*args)
        assert shown.code == 0, shown.err
        printed += [shown.out, shown.err]
    assert "halted" in printed[-2]
    export = tmp_path / "audit.jsonl"
    exported = rig.cli("audit", "export", "--output", str(export))
    assert exported.code == 0, exported.err
    assert export.stat().st_size > 0

    log = (rig.home.logs / "crypto-trader.log").read_text()
    assert " DEBUG " in log, "the log did not run at DEBUG"
    assert text_leaks("".join(printed), [CANARY_SECRET]) == []
    transcript = tmp_path / "printed.txt"  # for the scan of every encoded form
    transcript.write_text("".join(printed))
    assert file_leaks(transcript, [CANARY_SECRET]) == []
    assert file_leaks(rig.home.root, [CANARY_SECRET]) == []
    assert file_leaks(export, [CANARY_SECRET]) == []
