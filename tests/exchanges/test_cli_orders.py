"""`balance` and `order` through the command line, against the Binance stand-in."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.exchanges.conftest import add_key_cli
from tests.support.cli import CliRunner, Outcome
from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin

ORDER_PATH = "/api/v3/order"
FIELDS = ("exchange", "symbol", "side", "type", "amount", "price", "client_order_id")


@pytest.fixture
def trader(trusting_cli: CliRunner, binance: BinanceStandin) -> CliRunner:
    key = binance.add_key(BinanceKey.generate(can_trade=True, ip_restrict=True))
    assert add_key_cli(trusting_cli, "t", key, "trading", "--no-check").code == 0
    binance.deposit("USDT", "1000")
    binance.deposit("BTC", "0.00000012")
    return trusting_cli


def place(cli: CliRunner, amount: str, price: str) -> Outcome:
    return cli(
        "order",
        "place",
        "--key",
        "t",
        "--symbol",
        "BTC/USDT",
        "--side",
        "buy",
        "--type",
        "limit",
        "--amount",
        amount,
        "--price",
        price,
        "--yes",
    )


def trading_records(cli: CliRunner) -> list[dict[str, object]]:
    shown = cli("audit", "show", "--type", "TRADING_OPERATION", "--json")
    return [r["details"] for r in json.loads(shown.out)]


def test_balance_json_shows_deposits(
    trader: CliRunner, binance: BinanceStandin
) -> None:
    outcome = trader("balance", "--key", "t", "--json")

    assert outcome.code == 0, outcome.err
    balances = json.loads(outcome.out)
    assert Decimal(balances["USDT"]["total"]) == 1000
    assert balances["BTC"]["free"] == "0.00000012"  # not rounded to 6 places
    assert binance.methods_seen() == {"GET"}


def test_too_fine_amount_exits_2_naming_the_step(
    trader: CliRunner, binance: BinanceStandin
) -> None:
    outcome = place(trader, "0.0010001", "20000")

    assert outcome.code == 2, outcome.err
    assert "step 0.00001" in outcome.err
    assert binance.requests_to(ORDER_PATH, "POST") == []


def test_order_below_minimum_cost_is_refused_before_sending(
    trader: CliRunner, binance: BinanceStandin
) -> None:
    outcome = place(trader, "0.0001", "20000")

    assert outcome.code != 0
    assert "minimum of 5" in outcome.err
    assert binance.requests_to(ORDER_PATH, "POST") == []
    assert trading_records(trader) == []


def test_place_list_and_cancel_by_either_id_are_audited(
    trader: CliRunner, binance: BinanceStandin
) -> None:
    first, second = place(trader, "0.001", "20000"), place(trader, "0.002", "21000")
    assert (first.code, second.code) == (0, 0), first.err + second.err
    listed = trader("order", "list", "--key", "t", "--symbol", "BTC/USDT", "--json")
    assert listed.code == 0, listed.err
    orders = {o["amount"]: o for o in json.loads(listed.out)}
    ours = orders["0.001"]["client_order_id"]
    assert ours.startswith("ct-")
    assert ours in first.out
    exchange_id = orders["0.002"]["id"]

    by_ours = trader("order", "cancel", "--key", "t", "--symbol", "BTC/USDT", ours)
    by_theirs = trader(
        "order", "cancel", "--key", "t", "--symbol", "BTC/USDT", exchange_id
    )
    after = trader("order", "list", "--key", "t", "--json")

    assert (by_ours.code, by_theirs.code) == (0, 0), by_ours.err + by_theirs.err
    assert after.code == 0, after.err
    assert json.loads(after.out) == []
    assert len(binance.requests_to(ORDER_PATH, "POST")) == 2
    assert len(binance.requests_to(ORDER_PATH, "DELETE")) == 2
    records = trading_records(trader)
    assert [r["action"] for r in records] == [
        "submitted",
        "placed",
        "submitted",
        "placed",
        "cancelled",
        "cancelled",
    ]
    for record in records:
        assert all(record.get(name) is not None for name in FIELDS), record
    assert records[0]["amount"] == "0.001"
    assert records[0]["price"] == "20000"
    assert records[0]["client_order_id"] == ours
    assert records[4]["client_order_id"] == ours
    assert records[5]["order_id"] == exchange_id
    assert records[5]["client_order_id"] == orders["0.002"]["client_order_id"]
