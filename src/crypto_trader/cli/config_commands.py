"""`crypto-trader config`: show, get and set settings."""

from __future__ import annotations

from typing import Annotated

import typer

from crypto_trader.cli.context import SafeTable, console, print_json, say, state
from crypto_trader.settings import SETTINGS

app = typer.Typer(help="Show and change settings.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object.")
    ] = False,
) -> None:
    """Show every setting and its value."""
    values = state(ctx).open().settings.all()
    if json:
        print_json(values)
        return
    table = SafeTable("setting", "value", "meaning")
    for name, value in values.items():
        table.add_row(name, str(value), SETTINGS[name].description)
    console.print(table)


@app.command("get")
def get(ctx: typer.Context, key: Annotated[str, typer.Argument()]) -> None:
    """Print one setting's value."""
    say(str(state(ctx).open().settings.get(key)))


# A value may start with "-": it is checked as the setting's value, not an option.
@app.command("set", context_settings={"ignore_unknown_options": True})
def set_(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument()],
    value: Annotated[str, typer.Argument()],
) -> None:
    """Change a setting (audited)."""
    installation = state(ctx).open()
    installation.settings.check(key, value)
    installation.custody.unlock()
    old, new = installation.settings.set(key, value)
    say(f"{key}: {old} -> {new}")
