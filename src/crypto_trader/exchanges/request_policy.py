"""Classifying each exchange request before it is signed: public, read, trade, never.

The rule is deny by default. Public endpoints need no key. A private GET reads. Any
other private request trades, unless the exchange is known to read through POST
(Kraken reads everything that way). Whatever moves funds off the account, or between
accounts, is never sent at all, whatever the key: withdrawals, transfers, sends,
conversions, loans.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum


class RequestKind(StrEnum):
    """What a request does to the account."""

    PUBLIC = "public"
    READ = "read"
    TRADE = "trade"
    FORBIDDEN = "forbidden"


# Path words that move funds: matched on any private request that is not a plain read.
_MOVES_FUNDS = re.compile(
    r"withdraw|transfer|transaction|deposit|convert|borrow|repay|loan|lending|"
    r"payment|send|sub-?account|subaccount|address|wallet|staking|stake|redeem|"
    r"dust|asset/|capital/|futures/|margin/",
    re.IGNORECASE,
)

# Private POST endpoints that only read, per exchange (path as ccxt names it).
_POST_READS: dict[str, frozenset[str]] = {
    "kraken": frozenset(
        {
            "Balance",
            "BalanceEx",
            "TradeBalance",
            "OpenOrders",
            "ClosedOrders",
            "QueryOrders",
            "TradesHistory",
            "QueryTrades",
            "OpenPositions",
            "Ledgers",
            "QueryLedgers",
            "TradeVolume",
        }
    ),
}


def classify(
    exchange_id: str, api: str | Sequence[str], method: str, path: str
) -> RequestKind:
    """Say what a ccxt endpoint call does, from its API section, method and path."""
    sections = [api] if isinstance(api, str) else list(api)
    if any("public" in section.lower() for section in sections):
        return RequestKind.PUBLIC
    verb = method.upper()
    if verb == "GET":
        return RequestKind.READ
    if _MOVES_FUNDS.search(path):
        return RequestKind.FORBIDDEN
    if path in _POST_READS.get(exchange_id, frozenset()):
        return RequestKind.READ
    return RequestKind.TRADE
