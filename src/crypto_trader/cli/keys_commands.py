"""`crypto-trader keys`: add, list, change, remove and verify API keys."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Annotated

import typer

from crypto_trader.cli.context import SafeTable, console, print_json, say, state, warn
from crypto_trader.cli.key_input import read_material
from crypto_trader.clock import system_clock
from crypto_trader.errors import EXIT_REFUSED, IntegrityError
from crypto_trader.exchange_ids import check_exchange
from crypto_trader.installation import Installation
from crypto_trader.vault.key_vault import parse_permission
from crypto_trader.vault.store_choice import StoreName
from crypto_trader.vault.validation import normalize_label

if TYPE_CHECKING:
    from crypto_trader.key_hygiene import KeyCheck

app = typer.Typer(
    help="Manage exchange API keys (encrypted at rest).", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
StdinOption = Annotated[
    bool, typer.Option("--stdin", help="Read the key as JSON from standard input.")
]


NoCheckOption = Annotated[
    bool, typer.Option("--no-check", help="Do not ask the exchange about the key.")
]
AllowWithdrawalOption = Annotated[
    bool,
    typer.Option(
        "--allow-withdrawal-rights",
        help="Accept a key that can withdraw or transfer funds.",
    ),
]
SandboxOption = Annotated[
    bool, typer.Option("--sandbox", help="Use the exchange's test network.")
]


@app.command("add")
def add(
    ctx: typer.Context,
    exchange: Annotated[str, typer.Option(help="ccxt exchange id, e.g. binance.")],
    label: Annotated[str, typer.Option(help="A unique name for this key.")],
    permission: Annotated[
        str, typer.Option(help="read-only (default) or trading.")
    ] = "read-only",
    stdin: StdinOption = False,
    no_check: NoCheckOption = False,
    allow_withdrawal_rights: AllowWithdrawalOption = False,
    sandbox: SandboxOption = False,
) -> None:
    """Add a key; prompts with hidden input unless --stdin; then checks its rights."""
    # Name a mistake in the options before asking for any secret.
    level = parse_permission(permission)
    normalize_label(label)
    check_exchange(exchange)
    material = read_material(stdin)
    installation = state(ctx).open()
    record = installation.vault.add(label, exchange, level, material)
    say(f"added {record.label} ({record.exchange}, {record.permission})")
    if not no_check:
        _run_check(
            installation,
            record.label,
            allow_withdrawal_rights,
            sandbox,
            remove_if_refused=True,
        )


@app.command("check")
def check(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="The key's label.")],
    allow_withdrawal_rights: AllowWithdrawalOption = False,
    sandbox: SandboxOption = False,
    json: JsonOption = False,
) -> None:
    """Ask the exchange what the key can really do, and warn about what to change."""
    installation = state(ctx).open()
    result = _run_check(
        installation,
        label,
        allow_withdrawal_rights,
        sandbox,
        remove_if_refused=False,
        quiet=json,
    )
    if json:
        print_json(result.as_dict())


def _run_check(
    installation: Installation,
    label: str,
    allow_withdrawal_rights: bool,
    sandbox: bool,
    remove_if_refused: bool,
    quiet: bool = False,
) -> KeyCheck:
    from crypto_trader.exchanges.sessions import open_keyed_door
    from crypto_trader.key_hygiene import KeyRightsRefusedError, check_key

    try:
        with open_keyed_door(installation, label, sandbox) as door:
            result = check_key(
                installation, label, door, system_clock, allow_withdrawal_rights
            )
    except KeyRightsRefusedError:
        if remove_if_refused:
            installation.vault.remove(label)
            warn(f"key {label!r} was not kept")
        raise
    for line in result.warnings:
        warn(line)
    if result.status == "pending":
        warn(
            f"the key is stored but its check is pending; run: crypto-trader keys "
            f"check {shlex.quote(result.label)}"
        )
    elif not quiet:
        say(f"key check: {result.status}")
    return result


@app.command("list")
def list_keys(ctx: typer.Context, json: JsonOption = False) -> None:
    """List keys with a hint of each API key, never more."""
    records = state(ctx).open().vault.records()
    if json:
        print_json([r.public_view() for r in records])
        return
    table = SafeTable(
        "label", "exchange", "permission", "api key", "created", "updated"
    )
    for r in records:
        view = r.public_view()
        table.add_row(
            *(
                str(view[c])
                for c in (
                    "label",
                    "exchange",
                    "permission",
                    "api_key_hint",
                    "created_at",
                    "updated_at",
                )
            )
        )
    console.print(table)


@app.command("update")
def update(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="The key's label.")],
    stdin: StdinOption = False,
) -> None:
    """Replace a key's material (API key, secret, passphrase)."""
    installation = state(ctx).open()
    installation.vault.get(label)
    record = installation.vault.update(label, read_material(stdin))
    say(f"updated {record.label}")


@app.command("set-permission")
def set_permission(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="The key's label.")],
    level: Annotated[str, typer.Argument(help="read-only or trading.")],
) -> None:
    """Change a key's permission level."""
    new_level = parse_permission(level)
    old, new = state(ctx).open().vault.set_permission(label, new_level)
    say(f"{label}: {old} -> {new}")


@app.command("remove")
def remove(
    ctx: typer.Context, label: Annotated[str, typer.Argument(help="The key's label.")]
) -> None:
    """Delete a key."""
    installation = state(ctx).open()
    installation.vault.get(label)  # an unknown label is named before any unlock
    installation.vault.remove(label)
    say(f"removed {label}")


@app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Check every stored key's integrity; exit 3 naming any that fails."""
    installation = state(ctx).open()
    records = installation.vault.records()
    if not records:
        say("no keys stored")
        return
    problems = installation.vault.verify_all()
    for problem in problems:
        warn(f"key {problem.label!r} {problem.problem}; it will not be used")
    if problems:
        raise typer.Exit(EXIT_REFUSED)
    say(f"all {len(records)} keys verified")


@app.command("rotate-master")
def rotate_master(ctx: typer.Context) -> None:
    """Re-encrypt every key under a new master key and retire the old one."""
    installation = state(ctx).open()
    count = installation.custody.rotate(installation.vault.reencrypt_all)
    say(f"master key rotated; {count} keys re-encrypted")


@app.command("change-passphrase")
def change_passphrase(ctx: typer.Context) -> None:
    """Re-wrap the master key file under a new passphrase."""
    from crypto_trader.cli.context import ask_secret, interactive
    from crypto_trader.errors import InputError

    installation = state(ctx).open()
    installation.custody.unlock(create=False)
    if not interactive():
        raise InputError("changing the passphrase needs a terminal to prompt on")
    new = ask_secret("New passphrase for the master key file")
    if ask_secret("Repeat the new passphrase") != new:
        raise InputError("the two passphrases differ; run the command again")
    installation.custody.change_passphrase(new)
    say("passphrase changed")


@app.command("move-master")
def move_master(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="keyring or file.")],
) -> None:
    """Move the master key to another store without re-encrypting anything."""
    target = _movable_store(to)
    installation = state(ctx).open()
    if installation.custody.move(target):
        say(f"master key moved to the {target} store")
    else:
        say(f"master key already in the {target} store; removed the copy left behind")


def _movable_store(value: str) -> StoreName:
    from crypto_trader.errors import InputError

    if value not in (StoreName.KEYRING, StoreName.FILE):
        raise InputError(f"--to must be keyring or file, got {value[:20]!r}")
    return StoreName(value)


__all__ = ["IntegrityError", "app"]
