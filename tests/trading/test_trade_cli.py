"""`crypto-trader trade` refuses each mistake in one line that names the fix.

Every refusal exits non-zero, prints nothing on stdout, and leaves no session
behind: the next `trade status` still says that there is none.
"""

from __future__ import annotations

import pytest

from crypto_trader.errors import EXIT_FAILURE, EXIT_USAGE
from crypto_trader.home import Home
from tests.support.cli import CliRunner
from tests.trading.conftest import import_sample, sessions

OPTIONS = {
    "--strategy": "sma_cross",
    "--exchange": "coinbase",
    "--symbol": "BTC/USD",
    "--timeframe": "1h",
    "--mode": "paper",
}
HELP = "; see `crypto-trader trade --help`"
STAKE_HINT = "all, a share of equity such as 25%, or a quote amount such as 500"


def trade_args(*extra: str, **changed: str | None) -> list[str]:
    """`trade` with the valid paper options, some changed (None: left out)."""
    chosen: dict[str, str | None] = dict(OPTIONS)
    for name, value in changed.items():
        chosen[f"--{name.replace('_', '-')}"] = value
    args = ["trade"]
    for option, value in chosen.items():
        if value is not None:
            args += [option, value]
    return [*args, *extra]


def missing_series(symbol: str, timeframe: str) -> str:
    options = f"--exchange coinbase --symbol {symbol} --timeframe {timeframe}"
    return (
        f"no candles stored for coinbase {symbol} {timeframe}; download them with "
        f"`crypto-trader data download {options}` or import a file with "
        f"`crypto-trader data import FILE {options}` (see `crypto-trader data list`)"
    )


CASES = {
    "no strategy": (trade_args(strategy=None), f"--strategy is required{HELP}"),
    "no exchange": (trade_args(exchange=None), f"--exchange is required{HELP}"),
    "no symbol": (
        trade_args(symbol=None),
        "--symbol is required, such as --symbol BTC/USDT (repeatable)",
    ),
    "no timeframe": (trade_args(timeframe=None), f"--timeframe is required{HELP}"),
    "no mode": (trade_args("--replay", mode=None), f"--mode is required{HELP}"),
    "unknown mode": (
        trade_args(mode="demo"),
        "--mode: expected paper or live, got 'demo'",
    ),
    "--live on paper": (
        trade_args("--replay", "--live"),
        "--live is for --mode live; leave it out on paper",
    ),
    "--key on paper": (
        trade_args("--key", "mine"),
        "--mode paper needs no --key; leave it out",
    ),
    "--replay on live": (
        trade_args("--replay", "--key", "mine", "--live", mode="live"),
        "--replay is for --mode paper; live trades live candles",
    ),
    "live without a key": (
        trade_args("--live", mode="live"),
        "--mode live needs --key LABEL, a key with trading rights",
    ),
    "live without --live": (
        trade_args("--key", "mine", mode="live"),
        "--mode live sends real orders: add --live to confirm that you mean it",
    ),
    "--speed without --replay": (
        trade_args("--speed", "10"),
        "--speed is for --replay; live candles come in real time",
    ),
    "--speed 0": (
        trade_args("--replay", "--speed", "0"),
        "--speed: expected a number above 0 such as 60, got '0'",
    ),
    "--speed negative": (
        trade_args("--replay", "--speed", "-5"),
        "--speed: expected a number above 0 such as 60, got '-5'",
    ),
    "--speed text": (
        trade_args("--replay", "--speed", "fast"),
        "--speed: expected a number above 0 such as 60, got 'fast'",
    ),
    "--speed inf": (
        trade_args("--replay", "--speed", "inf"),
        "--speed: expected a number above 0 such as 60, got 'inf'",
    ),
    "--stake text": (
        trade_args("--replay", "--stake", "half"),
        f"--stake: expected {STAKE_HINT}, got 'half'",
    ),
    "--stake over 100%": (
        trade_args("--replay", "--stake", "150%"),
        "--stake: '150%' is more than 100% of equity",
    ),
    "--stake 0": (
        trade_args("--replay", "--stake", "0"),
        f"--stake: expected {STAKE_HINT}, got '0'",
    ),
    "--fill": (
        trade_args("--replay", "--fill", "open"),
        "--fill: expected next-open or close, got 'open'",
    ),
    "--param without a value": (
        trade_args("--replay", "--param", "fast"),
        "--param: expected NAME=VALUE such as fast=10, got 'fast'",
    ),
    "--param unknown": (
        trade_args("--replay", "--param", "window=5"),
        "--param window: sma_cross has no such parameter; its parameters: fast, slow",
    ),
    "--param not a number": (
        trade_args("--replay", "--param", "fast=ten"),
        "--param fast: expected int, got 'ten'",
    ),
    "--param out of range": (
        trade_args("--replay", "--param", "fast=1"),
        "--param fast: 1 is outside 2..200",
    ),
    "--param contradicting": (
        trade_args("--replay", "--param", "fast=40"),
        "--param: sma_cross: fast (40) must be less than slow (30)",
    ),
    "--param twice": (
        trade_args("--replay", "--param", "fast=5", "--param", "fast=6"),
        "--param fast: given twice; give each parameter once",
    ),
    "--cash": (
        trade_args("--replay", "--cash", "0"),
        "--cash: expected a positive quote amount such as 10000, got '0'",
    ),
    "--fee-rate": (
        trade_args("--replay", "--fee-rate", "1"),
        "--fee-rate: expected a fraction per side from 0 to below 1, such as "
        "0.001 for 0.1%, got '1'",
    ),
    "--slippage-bps": (
        trade_args("--replay", "--slippage-bps", "-1"),
        "--slippage-bps: expected basis points from 0 to below 10000, such as 5 "
        "for 0.05%, got '-1'",
    ),
    "--order-type": (
        trade_args("--replay", "--order-type", "stop"),
        "--order-type: expected market or limit, got 'stop'",
    ),
    "unknown strategy": (
        trade_args("--replay", strategy="nope"),
        "--strategy: no built-in strategy 'nope' (built-in: sma_cross, "
        "rsi_reversion, bollinger_breakout, macd); a strategy in a file is given "
        "as path/to/file.py:ClassName",
    ),
    "unknown exchange": (
        trade_args("--replay", exchange="nope"),
        "unknown exchange 'nope'; use a ccxt exchange id such as coinbase, "
        "binance or kraken",
    ),
    "bad symbol": (
        trade_args("--replay", symbol="BTCUSD"),
        "symbol 'BTCUSD': expected BASE/QUOTE such as BTC/USDT, each code 1 to "
        "20 letters or digits",
    ),
    "symbol twice": (
        trade_args("--replay", "--symbol", "btc/usd"),
        "--symbol: a market is given twice; give each once",
    ),
    "bad timeframe": (
        trade_args("--replay", timeframe="7x"),
        "unknown timeframe '7x'; use one of 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, "
        "6h, 8h, 12h, 1d, 3d, 1w",
    ),
    "series not stored": (
        trade_args("--replay", symbol="ETH/USD"),
        missing_series("ETH/USD", "1h"),
    ),
    "timeframe not stored": (
        trade_args("--replay", timeframe="4h"),
        missing_series("BTC/USD", "4h"),
    ),
    "second symbol not stored": (
        trade_args("--replay", "--symbol", "ETH/USD"),
        missing_series("ETH/USD", "1h"),
    ),
}
NOT_FOUND = {"series not stored", "timeframe not stored", "second symbol not stored"}


@pytest.mark.parametrize(("args", "message"), CASES.values(), ids=list(CASES))
def test_a_mistake_is_refused_in_one_line_and_starts_no_session(
    cli: CliRunner, home: Home, args: list[str], message: str
) -> None:
    import_sample(home, count=200)

    outcome = cli(*args)

    assert outcome.err == f"error: {message}\n"
    assert outcome.out == ""
    is_missing = message.startswith("no candles stored")
    assert outcome.code == (EXIT_FAILURE if is_missing else EXIT_USAGE)
    assert sessions(home) == []
    status = cli("trade", "status", "--json")
    assert status.code == 1
    assert "no trading session yet" in status.err


def test_the_cases_cover_every_missing_series() -> None:
    missing = {name for name, (_, text) in CASES.items() if "no candles" in text}
    assert missing == NOT_FOUND


def test_the_same_options_are_accepted(cli: CliRunner, home: Home) -> None:
    # The valid options the cases change: without a change the replay runs.
    import_sample(home, count=200)
    outcome = cli(*trade_args("--replay"))
    assert outcome.code == 0, outcome.err
    assert outcome.out.startswith("session 1 finished: equity ")
    assert [s["state"] for s in sessions(home)] == ["finished"]
