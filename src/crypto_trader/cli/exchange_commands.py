"""`crypto-trader balance` and `order`: the account, through the one door."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer

from crypto_trader.cli.context import (
    SafeTable,
    console,
    interactive,
    print_json,
    say,
    state,
)
from crypto_trader.errors import InputError

orders_app = typer.Typer(help="Place, cancel and list orders.", no_args_is_help=True)

KeyOption = Annotated[str, typer.Option("--key", help="The stored key's label.")]
SymbolOption = Annotated[
    str, typer.Option("--symbol", help="BASE/QUOTE, e.g. BTC/USDT.")
]
SandboxOption = Annotated[
    bool, typer.Option("--sandbox", help="Use the exchange's test network.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def balance(
    ctx: typer.Context,
    key: KeyOption,
    sandbox: SandboxOption = False,
    json: JsonOption = False,
) -> None:
    """Show the account's balances (a read: any key level)."""
    from crypto_trader.exchanges.sessions import open_keyed_door

    installation = state(ctx).open()
    with open_keyed_door(installation, key, sandbox) as door:
        raw = door.read("fetch_balance", lambda c: c.fetch_balance())
    balances = {
        asset: {
            "free": _text(raw["free"].get(asset)),
            "used": _text(raw["used"].get(asset)),
            "total": _text(total),
        }
        for asset, total in sorted((raw.get("total") or {}).items())
        if total
    }
    if json:
        print_json(balances)
        return
    table = SafeTable("asset", "free", "used", "total")
    for asset, row in balances.items():
        table.add_row(asset, row["free"], row["used"], row["total"])
    console.print(table)


@orders_app.command("place")
def place(
    ctx: typer.Context,
    key: KeyOption,
    symbol: SymbolOption,
    side: Annotated[str, typer.Option(help="buy or sell.")],
    type_: Annotated[str, typer.Option("--type", help="limit or market.")],
    amount: Annotated[str, typer.Option(help="Amount in base units.")],
    price: Annotated[
        str | None, typer.Option(help="Limit price in quote units.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask to confirm.")] = False,
    sandbox: SandboxOption = False,
) -> None:
    """Place an order (needs a trading key); asks to confirm unless --yes."""
    from crypto_trader.exchanges.orders import (
        OrderDesk,
        OrderRequest,
        OrderType,
        Side,
        parse_decimal,
    )
    from crypto_trader.exchanges.sessions import open_keyed_door

    order = OrderRequest(
        symbol.strip().upper(),
        _choice(Side, side, "--side"),
        _choice(OrderType, type_, "--type"),
        parse_decimal(amount, "--amount"),
        None if price is None else parse_decimal(price, "--price"),
    )
    installation = state(ctx).open()
    with open_keyed_door(installation, key, sandbox) as door:
        desk = OrderDesk(door, installation.audit)
        door.check(_trade_kind(), "create_order")
        if not yes:
            _confirm(
                f"{order.side} {order.amount} {order.symbol} {order.type}"
                + ("" if order.price is None else f" at {order.price}")
                + f" on {door.exchange_id}"
            )
        placed = desk.place(order)
    say(
        f"order placed: {placed.get('id')} ({placed.get('status')}), "
        f"client order id {placed.get('clientOrderId')}"
    )


@orders_app.command("cancel")
def cancel(
    ctx: typer.Context,
    key: KeyOption,
    symbol: SymbolOption,
    order_id: Annotated[str, typer.Argument(help="The exchange's order id or ours.")],
    sandbox: SandboxOption = False,
) -> None:
    """Cancel an order (needs a trading key)."""
    from crypto_trader.exchanges.orders import OrderDesk
    from crypto_trader.exchanges.sessions import open_keyed_door

    installation = state(ctx).open()
    with open_keyed_door(installation, key, sandbox) as door:
        cancelled = OrderDesk(door, installation.audit).cancel(
            symbol.strip().upper(), order_id.strip()
        )
    say(f"order cancelled: {cancelled.get('id')}")


@orders_app.command("list")
def list_orders(
    ctx: typer.Context,
    key: KeyOption,
    symbol: Annotated[
        str | None, typer.Option("--symbol", help="Only this market.")
    ] = None,
    sandbox: SandboxOption = False,
    json: JsonOption = False,
) -> None:
    """List open orders (a read: any key level)."""
    from crypto_trader.exchanges.orders import OrderDesk
    from crypto_trader.exchanges.sessions import open_keyed_door

    installation = state(ctx).open()
    with open_keyed_door(installation, key, sandbox) as door:
        orders = OrderDesk(door, installation.audit).open_orders(
            None if symbol is None else symbol.strip().upper()
        )
    rows = [_order_row(o) for o in orders]
    if json:
        print_json(rows)
        return
    table = SafeTable(
        "id",
        "client order id",
        "symbol",
        "side",
        "type",
        "amount",
        "price",
        "filled",
        "status",
    )
    for row in rows:
        table.add_row(
            *(
                str(row[c] if row[c] is not None else "")
                for c in (
                    "id",
                    "client_order_id",
                    "symbol",
                    "side",
                    "type",
                    "amount",
                    "price",
                    "filled",
                    "status",
                )
            )
        )
    console.print(table)


def _order_row(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": order.get("id"),
        "client_order_id": order.get("clientOrderId"),
        "symbol": order.get("symbol"),
        "side": order.get("side"),
        "type": order.get("type"),
        "amount": _text(order.get("amount")),
        "price": _text(order.get("price")),
        "filled": _text(order.get("filled")),
        "status": order.get("status"),
    }


def _text(value: object) -> str | None:
    """A number as plain decimal text: the float's shortest form, never rounded."""
    if value is None:
        return None
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value)


def _choice(kind: Any, value: str, option: str) -> Any:
    try:
        return kind(value.strip().lower())
    except ValueError:
        allowed = " or ".join(member.value for member in kind)
        raise InputError(f"{option} must be {allowed}, got {value[:20]!r}") from None


def _trade_kind() -> Any:
    from crypto_trader.exchanges.request_policy import RequestKind

    return RequestKind.TRADE


def _confirm(summary: str) -> None:
    if not interactive():
        raise InputError("no terminal to confirm on; pass --yes to place the order")
    if not typer.confirm(f"Place {summary}?", default=False):
        raise InputError("not confirmed; nothing was sent")
