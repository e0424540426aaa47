"""`crypto-trader audit`: show, verify and export the audit log."""

from __future__ import annotations

import json as json_module
import sys
from pathlib import Path
from typing import Annotated

import typer

from crypto_trader.audit.events import EventType
from crypto_trader.cli.context import SafeTable, console, print_json, say, state, warn
from crypto_trader.clock import parse_utc
from crypto_trader.errors import EXIT_REFUSED, InputError
from crypto_trader.secure_fs import write_private_atomic

app = typer.Typer(help="Review and verify the audit log.", no_args_is_help=True)


def _event_type(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return EventType(value.strip().upper()).value
    except ValueError:
        known = ", ".join(e.value for e in EventType)
        raise InputError(
            f"--type: unknown event type {value[:40]!r}; use {known}"
        ) from None


@app.command("show")
def show(
    ctx: typer.Context,
    type_: Annotated[
        str | None, typer.Option("--type", help="Only this event type.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="ISO 8601 UTC date or time.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the newest N.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Show audit records, oldest first."""
    start = None if since is None else parse_utc(since, "--since")
    records = state(ctx).open().audit.records(_event_type(type_), start, limit)
    if json:
        print_json([r.to_json_object() for r in records])
        return
    table = SafeTable("seq", "timestamp", "event", "user", "details")
    for r in records:
        details = json_module.dumps(r.details, ensure_ascii=True)
        table.add_row(str(r.seq), r.timestamp, r.event_type, r.user_id, details)
    console.print(table)


@app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Check the chain of records and its head; exit 3 naming the first bad record."""
    report = state(ctx).open().verify_audit()
    if not report.ok:
        warn(f"audit log failed verification: {report.problem}")
        raise typer.Exit(EXIT_REFUSED)
    say(f"audit log verified: {report.records} records, chain intact")
    if report.unanchored:
        say(
            f"note: the newest {report.unanchored} records were written without the "
            "master key (for example a wrong passphrase) and are anchored by the "
            "next record written with it"
        )


@app.command("export")
def export(
    ctx: typer.Context,
    output: Annotated[Path | None, typer.Option(help="File to write (0600).")] = None,
) -> None:
    """Write every record as JSON lines in the specification's shape."""
    records = state(ctx).open().audit.records()
    lines = "".join(
        json_module.dumps(r.to_json_object(), ensure_ascii=True) + "\n" for r in records
    )
    if output is None:
        sys.stdout.write(lines)
        return
    try:
        write_private_atomic(output, lines.encode("ascii"))
    except OSError as exc:
        raise InputError(
            f"--output: cannot write {output} ({exc.strerror}); "
            "give a file path in a folder you can write to"
        ) from None
    say(f"wrote {len(records)} records to {output}")
