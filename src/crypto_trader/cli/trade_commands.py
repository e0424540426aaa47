"""`crypto-trader trade`: run a strategy on paper or live; status, stop, resume."""

from __future__ import annotations

import math
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crypto_trader.cli.backtest_commands import (
    CashOption,
    ExchangeOption,
    FeeRateOption,
    FillOption,
    JsonOption,
    SlippageOption,
    StakeOption,
    StrategyOption,
    TimeframeOption,
)
from crypto_trader.cli.context import (
    errors,
    interactive,
    print_json,
    printable,
    say,
    state,
)
from crypto_trader.errors import InputError

if TYPE_CHECKING:
    from crypto_trader.trading.model import TradeSpec

trade_app = typer.Typer(
    help="Trade a strategy on paper or live; `trade status|stop|resume`.",
    invoke_without_command=True,
    no_args_is_help=True,
    subcommand_metavar="[status|stop|resume]",
)


@trade_app.callback()
def trade(
    ctx: typer.Context,
    strategy: StrategyOption = None,
    exchange: ExchangeOption = None,
    symbol: Annotated[
        list[str] | None,
        typer.Option(metavar="SYM", help="Market as BASE/QUOTE; repeatable."),
    ] = None,
    timeframe: TimeframeOption = None,
    mode: Annotated[
        str | None, typer.Option(metavar="paper|live", help="Simulated or real orders.")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(metavar="LABEL", help="The stored key to trade with (live)."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(metavar="NAME=VALUE", help="A strategy parameter; repeatable."),
    ] = None,
    cash: CashOption = "10000",
    fee_rate: FeeRateOption = "0.001",
    slippage_bps: SlippageOption = "0",
    fill: FillOption = "next-open",
    stake: StakeOption = "all",
    order_type: Annotated[
        str,
        typer.Option(
            metavar="market|limit",
            help="Live orders: market, or limit at the close (cancelled a candle on).",
        ),
    ] = "market",
    replay: Annotated[
        bool, typer.Option("--replay", help="Paper: feed stored candles instead.")
    ] = False,
    speed: Annotated[
        str | None,
        typer.Option(
            metavar="N", help="Replay at N times real time (default: no wait)."
        ),
    ] = None,
    live: Annotated[
        bool, typer.Option("--live", help="Confirm that live mode sends real orders.")
    ] = False,
) -> None:
    """Run a strategy on each closed candle, on paper or live, until stopped.

    Without a command, starts (or after a crash resumes) a session; `trade status`,
    `trade stop` and `trade resume` work from any terminal.
    """
    if ctx.invoked_subcommand is not None:
        return
    from crypto_trader.backtest.runner import build_strategy, parse_params

    spec, params = _spec(
        strategy,
        exchange,
        symbol,
        timeframe,
        mode,
        key,
        param,
        cash,
        fee_rate,
        slippage_bps,
        fill,
        stake,
        order_type,
        replay,
        speed,
        live,
    )
    built = build_strategy(spec.strategy, parse_params(params))
    from dataclasses import replace

    spec = replace(spec, params=dict(built.values))
    installation = state(ctx).open()
    installation.custody.unlock()  # the audit log signs every order
    from crypto_trader.trading.session import start

    confirm = _confirm if spec.mode.value == "live" and interactive() else None
    with _terminated_as_interrupt():
        started = start(installation, spec, built, _notify, confirm)
    outcome = started.outcome
    session = started.session
    if outcome.state.value == "finished":
        say(f"session {session.id} finished: {_summary(installation)}")
    elif outcome.state.value == "halted":
        raise typer.Exit(outcome.exit_code or 1)
    else:
        say(f"session {session.id} stopped: {_summary(installation)}")


def _spec(
    strategy: str | None,
    exchange: str | None,
    symbols: list[str] | None,
    timeframe: str | None,
    mode: str | None,
    key: str | None,
    params: list[str] | None,
    cash: str,
    fee_rate: str,
    slippage_bps: str,
    fill: str,
    stake: str,
    order_type: str,
    replay: bool,
    speed: str | None,
    live: bool,
) -> tuple[TradeSpec, list[str]]:
    from crypto_trader.backtest.runner import parse_engine_config
    from crypto_trader.exchange_ids import check_exchange
    from crypto_trader.market_data.symbols import parse_symbol
    from crypto_trader.market_data.timeframes import parse_timeframe
    from crypto_trader.trading.model import Mode, OrderKind, TradeSpec

    name = _required("--strategy", strategy)
    exchange_id = check_exchange(_required("--exchange", exchange))
    if not symbols:
        raise InputError("--symbol is required, such as --symbol BTC/USDT (repeatable)")
    markets = tuple(str(parse_symbol(s)) for s in symbols)
    if len(set(markets)) != len(markets):
        raise InputError("--symbol: a market is given twice; give each once")
    frame = parse_timeframe(_required("--timeframe", timeframe))
    chosen = _mode(mode)
    config = parse_engine_config(cash, fee_rate, slippage_bps, fill, stake)
    if order_type not in ("market", "limit"):
        raise InputError(f"--order-type: expected market or limit, got {order_type!r}")
    if chosen is Mode.PAPER:
        if live:
            raise InputError("--live is for --mode live; leave it out on paper")
        if key is not None:
            raise InputError("--mode paper needs no --key; leave it out")
    else:
        if replay:
            raise InputError("--replay is for --mode paper; live trades live candles")
        if key is None:
            raise InputError("--mode live needs --key LABEL, a key with trading rights")
        if not live:
            raise InputError(
                "--mode live sends real orders: add --live to confirm that you mean it"
            )
    pace = None if speed is None else _speed(speed, replay)
    spec = TradeSpec(
        strategy=name,
        params={},
        exchange=exchange_id,
        symbols=markets,
        timeframe=frame.value,
        mode=chosen,
        config=config,
        key_label=key,
        replay=replay,
        order_kind=OrderKind(order_type),
        speed=pace,
    )
    return spec, params or []


def _required(option: str, value: str | None) -> str:
    if value is None or not value.strip():
        raise InputError(f"{option} is required; see `crypto-trader trade --help`")
    return value.strip()


def _mode(text: str | None) -> Any:
    from crypto_trader.trading.model import Mode

    value = _required("--mode", text).lower()
    if value not in ("paper", "live"):
        raise InputError(f"--mode: expected paper or live, got {text!r}")
    return Mode(value)


def _speed(text: str, replay: bool) -> float:
    if not replay:
        raise InputError("--speed is for --replay; live candles come in real time")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"--speed: expected a number above 0 such as 60, got {text!r}")
    return value


def _confirm(spec: TradeSpec) -> None:
    expected = f"{spec.exchange} {' '.join(spec.symbols)}"
    errors.print(
        f"Live trading sends real orders to {spec.exchange} for "
        f"{', '.join(spec.symbols)} with key {spec.key_label!r}.",
        markup=False,
    )
    answer = typer.prompt(f"Type '{expected}' to confirm", err=True, default="")
    if answer.strip() != expected:
        raise InputError(
            "live trading not confirmed: the typed text did not match; nothing was sent"
        )


def _notify(message: str) -> None:
    stream = errors if message.startswith(("warning:", "error:", "halted:")) else None
    if stream is None:
        say(message)
    else:
        stream.print(printable(message), markup=False)


@contextmanager
def _terminated_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the runner the way Ctrl-C does: orders cancelled, state saved."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _summary(installation: Any) -> str:
    from crypto_trader.trading.session import status

    report = status(installation)
    return (
        f"equity {report['equity']:.2f}, realised PnL {report['realized_pnl']:.2f}, "
        f"{report['trades']} trades"
    )


@trade_app.command("status")
def trade_status(ctx: typer.Context, json: JsonOption = False) -> None:
    """Show the newest session: state, balances, positions, orders, PnL."""
    from crypto_trader.trading.session import status

    report = status(state(ctx).open())
    if json:
        print_json(report)
        return
    for line in _status_lines(report):
        say(line)


def _status_lines(report: dict[str, Any]) -> Iterator[str]:
    alive = "" if report["runner_alive"] else " (no runner is running)"
    yield (
        f"session {report['session']}: {report['state']}{alive}, {report['strategy']} "
        f"{report['mode']}{' replay' if report['replay'] else ''} on "
        f"{report['exchange']} {', '.join(report['symbols'])} {report['timeframe']}"
    )
    if report["halt_reason"]:
        yield f"halted: {report['halt_reason']}"
    yield (
        f"equity {report['equity']:.2f}  cash {report['cash']:.2f}  "
        f"realised PnL {report['realized_pnl']:.2f}  unrealised PnL "
        f"{report['unrealized_pnl']:.2f}  fees {report['fees']:.2f}  "
        f"trades {report['trades']}"
    )
    balances = ", ".join(f"{k} {v:.8g}" for k, v in sorted(report["balances"].items()))
    yield f"balances: {balances}"
    for p in report["positions"]:
        yield (
            f"position {p['symbol']}: {p['amount']:.8g} from {p['entry_price']:.8g}, "
            f"last {p['last_price'] or 0:.8g}, unrealised {p['unrealized_pnl']:.2f}"
        )
    if not report["positions"]:
        yield "positions: none"
    for o in report["open_orders"]:
        yield (
            f"open order {o['client_order_id']}: {o['symbol']} {o['side']} {o['type']} "
            f"{o['amount'] if o['amount'] is not None else 'budget'} ({o['state']})"
        )
    if not report["open_orders"]:
        yield "open orders: none"
    if report["last_refusal"]:
        yield f"last order refused: {report['last_refusal']}"


@trade_app.command("stop")
def trade_stop(ctx: typer.Context) -> None:
    """Stop the running session: cancel its open orders, end it cleanly."""
    from crypto_trader.trading.session import stop

    _, message = stop(state(ctx).open())
    say(message)


@trade_app.command("resume")
def trade_resume(ctx: typer.Context) -> None:
    """Lift a halt (a daily loss limit) of the running session."""
    from crypto_trader.trading.session import resume

    say(resume(state(ctx).open()))
