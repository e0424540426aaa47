"""ccxt's exchange ids, bundled with the package so checking one never imports ccxt."""

from __future__ import annotations

from functools import cache
from importlib import resources

from crypto_trader.errors import InputError


@cache
def known_exchange_ids() -> frozenset[str]:
    """ccxt's exchange ids, from the list bundled with the package."""
    text = (
        resources.files("crypto_trader") / "data" / "ccxt_exchange_ids.txt"
    ).read_text(encoding="ascii")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def check_exchange(exchange: str) -> str:
    """Return a known ccxt exchange id or say how to find one."""
    value = exchange.strip().lower()
    if value not in known_exchange_ids():
        raise InputError(
            f"unknown exchange {exchange[:40]!r}; use a ccxt exchange id such as "
            "coinbase, binance or kraken"
        )
    return value
