"""The entry point: global options, sub-commands, one-line errors, exit codes."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from crypto_trader import __version__
from crypto_trader.cli import (
    audit_commands,
    backtest_commands,
    config_commands,
    data_commands,
    exchange_commands,
    keys_commands,
    optimize_command,
    trade_commands,
)
from crypto_trader.cli.context import AppState, errors, say, state
from crypto_trader.cli.report_command import security_report
from crypto_trader.diagnostic_log import configure as configure_logging
from crypto_trader.errors import EXIT_FAILURE, EXIT_USAGE, CryptoTraderError
from crypto_trader.home import resolve_home
from crypto_trader.vault.secrets import redactions

log = logging.getLogger("crypto_trader.cli")

app = typer.Typer(
    name="crypto-trader",
    help="Local-first crypto trading with encrypted exchange keys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(keys_commands.app, name="keys")
app.add_typer(audit_commands.app, name="audit")
app.add_typer(config_commands.app, name="config")
app.add_typer(data_commands.app, name="data")
app.add_typer(exchange_commands.orders_app, name="order")
app.command("balance")(exchange_commands.balance)
app.command("security-report")(security_report)
app.add_typer(backtest_commands.backtest_app, name="backtest")
app.command("optimize")(optimize_command.optimize)
app.add_typer(backtest_commands.strategies_app, name="strategies")
app.command("demo")(backtest_commands.demo)
app.add_typer(trade_commands.trade_app, name="trade")


def _version(value: bool) -> None:
    if value:
        say(f"crypto-trader {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        str | None, typer.Option(help="Home directory (default: CRYPTO_TRADER_HOME).")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also print diagnostic logs.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show it."),
    ] = False,
) -> None:
    """Crypto Trader: keys encrypted at rest, audited, checked on every request."""
    resolved = resolve_home(home).ensure()
    configure_logging(resolved.logs, "INFO", verbose)
    log.debug("crypto-trader %s, home %s", __version__, resolved.root)
    ctx.obj = AppState(resolved, verbose)
    ctx.call_on_close(ctx.obj.close)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the home directory and database (other commands do it on first use)."""
    installation = state(ctx).open()
    say(f"home ready at {installation.home.root}")


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit status; never shows a traceback."""
    os.umask(0o077)
    try:
        result = app(args=argv, prog_name="crypto-trader", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        errors.print("error: aborted", markup=False)
        return EXIT_FAILURE
    except typer.TyperException as exc:
        message = redactions.redact(exc.format_message()).rstrip(".")
        message = message or "a command is missing"
        errors.print(f"error: {message}; see crypto-trader --help", markup=False)
        return int(exc.exit_code) or EXIT_USAGE
    except CryptoTraderError as exc:
        log.info("refused: %s", type(exc).__name__)
        errors.print(f"error: {redactions.redact(str(exc))}", markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        errors.print("error: interrupted", markup=False)
        return 130
    except Exception as exc:
        log.exception("internal error")
        errors.print(
            f"error: internal error ({type(exc).__name__}); details are in the "
            "log under logs/ in the home directory",
            markup=False,
        )
        return EXIT_FAILURE
    return int(result) if isinstance(result, int) else 0


def run() -> None:
    """The console script."""
    sys.exit(main())
