"""`crypto-trader security-report`: the state of the installation at a glance."""

from __future__ import annotations

from typing import Annotated

import typer

from crypto_trader.cli.context import SafeTable, console, print_json, say, state, warn
from crypto_trader.errors import EXIT_REFUSED
from crypto_trader.security_report import build_report


def security_report(
    ctx: typer.Context,
    json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object.")
    ] = False,
) -> None:
    """Report the key store, file modes, key ages, integrity and audit chain."""
    report = build_report(state(ctx).open())
    if json:
        print_json(report)
    else:
        _print(report)
    if report["attention"]:
        raise typer.Exit(EXIT_REFUSED)


def _print(report: dict[str, object]) -> None:
    store = report["key_store"]
    assert isinstance(store, dict)  # noqa: S101 - built by build_report
    say(f"key store: {store['name']} ({store['backend']})")
    files = SafeTable("path", "mode", "ok")
    for entry in report["files"]:  # type: ignore[attr-defined]
        files.add_row(entry["path"], entry["mode"], "yes" if entry["ok"] else "NO")
    console.print(files)
    keys = SafeTable("label", "exchange", "permission", "age (days)", "status")
    for entry in report["keys"]:  # type: ignore[attr-defined]
        keys.add_row(
            entry["label"],
            entry["exchange"],
            entry["permission"],
            str(entry["age_days"]),
            entry["status"],
        )
    console.print(keys)
    audit = report["audit"]
    assert isinstance(audit, dict)  # noqa: S101 - built by build_report
    say(
        f"audit chain: {'intact' if audit['ok'] else audit['problem']}, "
        f"{audit['records']} records"
    )
    attention = report["attention"]
    assert isinstance(attention, list)  # noqa: S101 - built by build_report
    for item in attention:
        warn(item)
    if not attention:
        say("nothing needs attention")
