"""The bundled exchange ids equal ccxt's, and checking one never imports ccxt."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources

from crypto_trader.exchange_ids import known_exchange_ids
from tests.support.cli import child_env

CHECK_WITHOUT_CCXT = """
import sys
from crypto_trader.exchange_ids import check_exchange
assert check_exchange('binance') == 'binance'
assert 'ccxt' not in sys.modules, 'validating an exchange id imported ccxt'
"""


def bundled_lines() -> list[str]:
    text = (
        resources.files("crypto_trader") / "data" / "ccxt_exchange_ids.txt"
    ).read_text(encoding="ascii")
    return text.splitlines()


def test_bundled_list_equals_ccxts_own() -> None:
    import ccxt  # the test's own dependency: the package never imports it here

    assert bundled_lines() == sorted(ccxt.exchanges)
    assert known_exchange_ids() == frozenset(ccxt.exchanges)


def test_checking_an_exchange_id_does_not_import_ccxt() -> None:
    checked = subprocess.run(
        [sys.executable, "-c", CHECK_WITHOUT_CCXT],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert checked.returncode == 0, checked.stderr
