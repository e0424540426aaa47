"""`crypto-trader backtest`, `backtest list` and `strategies list` on the CLI."""

from __future__ import annotations

import io
import json
import stat
import textwrap
from pathlib import Path

import numpy as np
import pytest

from crypto_trader.diagnostic_log import LOG_NAME
from crypto_trader.home import Home
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.candles import Candles, candles_from_arrays
from crypto_trader.market_data.series import series_id
from crypto_trader.market_data.timeframes import HOUR_MS
from crypto_trader.storage.database import Database
from tests.support.cli import CliRunner, Outcome

START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
COUNT = 400
SERIES = ("--exchange", "coinbase", "--symbol", "BTC/USD", "--timeframe", "1h")
RUN = ("backtest", "--strategy", "sma_cross", *SERIES)
REQUIRED_KEYS = {
    "trades",
    "final_equity",
    "total_return_pct",
    "max_drawdown_pct",
    "sharpe",
    "win_rate_pct",
    "profit_factor",
    "fees_paid",
    "candles",
}
BUILT_INS = {"sma_cross", "rsi_reversion", "bollinger_breakout", "macd"}


def waves(count: int) -> Candles:
    """Hourly candles whose close swings in long waves: averages cross often."""
    rng = np.random.default_rng(11)
    close = 100 + 8 * np.sin(np.arange(count) / 15.0) + rng.normal(0, 0.3, count)
    open_ = np.concatenate([[close[0]], close[:-1]])
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    times = START_MS + HOUR_MS * np.arange(count, dtype=np.int64)
    return candles_from_arrays(times, open_, high, low, close, np.ones(count))


@pytest.fixture
def stored(home: Home) -> Home:
    """The home with COUNT hourly coinbase BTC/USD candles."""
    CandleStore.for_home(home).merge(
        series_id("coinbase", "BTC/USD", "1h"), waves(COUNT)
    )
    return home


def as_json(outcome: Outcome) -> object:
    assert outcome.code == 0, outcome.err
    return json.loads(outcome.out)


def assert_one_line_error(outcome: Outcome, code: int, *fragments: str) -> None:
    assert outcome.code == code, (outcome.out, outcome.err)
    assert outcome.err.startswith("error: ")
    assert outcome.err.count("\n") == 1, outcome.err
    assert "Traceback" not in outcome.err
    for fragment in fragments:
        assert fragment in outcome.err, outcome.err


def assert_vault_untouched(home: Home) -> None:
    assert not home.master_key_file.exists()
    db = Database(home.database)
    try:
        names = {row[0] for row in db.connection.execute("SELECT name FROM meta")}
    finally:
        db.close()
    assert names == set()


# Running one backtest.


def test_json_prints_one_object_with_the_metrics_and_conventions(
    cli: CliRunner, stored: Home
) -> None:
    result = as_json(cli(*RUN, "--json"))
    assert isinstance(result, dict)
    assert set(result) >= REQUIRED_KEYS
    assert result["candles"] == COUNT
    assert result["trades"] > 0
    assert result["strategy"] == "sma_cross"
    assert set(result["params"]) == {"fast", "slow"}
    assert result["config"] == {
        "cash": 10000.0,
        "fee_rate": 0.001,
        "slippage_bps": 0.0,
        "fill": "next-open",
        "stake": "all",
        "stop_loss": None,
        "take_profit": None,
        "trailing_stop": None,
    }
    assert any("next-open" in line for line in result["conventions"])
    assert result["run_id"] == 1
    assert result["report"] is None
    assert result["fees_paid"] > 0


def test_options_reach_the_engine(cli: CliRunner, stored: Home) -> None:
    result = as_json(
        cli(
            *RUN,
            "--param",
            "fast=5",
            "--param",
            "slow=20",
            "--cash",
            "500",
            "--fee-rate",
            "0",
            "--slippage-bps",
            "3",
            "--fill",
            "close",
            "--stake",
            "50%",
            "--start",
            "2024-01-02",
            "--end",
            "2024-01-10T12:00:00Z",
            "--json",
        )
    )
    assert isinstance(result, dict)
    assert result["params"] == {"fast": 5, "slow": 20}
    assert result["config"]["cash"] == 500.0
    assert result["config"]["fill"] == "close"
    assert result["config"]["stake"] == "50%"
    assert result["fees_paid"] == 0.0
    # 2024-01-02T00:00 inclusive to 2024-01-10T12:00 exclusive: 8.5 days of hours.
    assert result["candles"] == 204
    assert (result["start"], result["end"]) == (
        "2024-01-02T00:00:00Z",
        "2024-01-10T12:00:00Z",
    )


def test_the_table_labels_every_metric_with_its_unit(
    cli: CliRunner, stored: Home
) -> None:
    outcome = cli(*RUN)
    assert outcome.code == 0, outcome.err
    for label in (
        "Total return [%]",
        "Buy-and-hold return [%]",
        "Max drawdown [%]",
        "Sharpe ratio [annualised]",
        "Sortino ratio [annualised]",
        "Win rate [% of closed trades]",
        "Fees paid [USD]",
        "Average trade duration [h]",
    ):
        assert label in outcome.out
    assert "sma_cross(fast=" in outcome.out
    assert "recorded as run 1" in outcome.out
    assert "next-open fills, fee 0.1% per side" in outcome.out
    assert "stake all, no stops; see the README" in outcome.out


def test_a_report_is_written_and_remembered(
    cli: CliRunner, stored: Home, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "run.html"
    target.parent.mkdir()
    result = as_json(cli(*RUN, "--report", str(target), "--json"))
    assert isinstance(result, dict)
    assert result["report"] == str(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    page = target.read_text()
    assert "sma_cross" in page
    assert "Total return [%]" in page
    runs = as_json(cli("backtest", "list", "--json"))
    assert isinstance(runs, list)
    assert runs[0]["report"] == str(target)


def test_a_user_strategy_loads_from_a_file(
    cli: CliRunner, stored: Home, tmp_path: Path
) -> None:
    source = tmp_path / "mine.py"
    source.write_text(
        textwrap.dedent(
            '''
            import numpy as np

            from crypto_trader.backtest.strategy import Param, Signals, Strategy


            class EveryTen(Strategy):
                """Enters every ten candles, exits five later."""

                name = "every_ten"
                params = (Param("offset", 0, 0, 9),)

                def signals(self, candles):
                    index = np.arange(len(candles)) + self.values["offset"]
                    return Signals(index % 10 == 0, index % 10 == 5)
            '''
        )
    )
    result = as_json(
        cli(
            "backtest",
            "--strategy",
            f"{source}:EveryTen",
            *SERIES,
            "--param",
            "offset=3",
            "--json",
        )
    )
    assert isinstance(result, dict)
    assert result["strategy"] == "every_ten"
    assert result["params"] == {"offset": 3}
    assert result["trades"] == COUNT // 10


def test_a_failing_user_strategy_is_one_line_naming_its_line(
    cli: CliRunner, stored: Home, tmp_path: Path
) -> None:
    source = tmp_path / "oops.py"
    source.write_text(
        textwrap.dedent(
            """
            from crypto_trader.backtest.strategy import Strategy


            class Oops(Strategy):
                name = "oops"

                def signals(self, candles):
                    return {}["missing"]
            """
        )
    )
    outcome = cli("backtest", "--strategy", f"{source}:Oops", *SERIES)
    assert_one_line_error(
        outcome,
        1,
        "strategy oops failed in signals() (oops.py line 9): KeyError: 'missing'",
        "the traceback is in the log",
    )
    log = (stored.logs / LOG_NAME).read_text()
    assert "Traceback" in log
    assert 'return {}["missing"]' in log


def test_a_backtest_never_opens_the_vault(
    cli: CliRunner, stored: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the keyring store and no keyring here, any unlock would fail.
    monkeypatch.setenv("CRYPTO_TRADER_KEY_STORE", "keyring")
    monkeypatch.delenv("CRYPTO_TRADER_KEY_PASSPHRASE")
    assert cli(*RUN).code == 0
    assert cli("backtest", "list").code == 0
    assert_vault_untouched(stored)


# Bad input: one line naming the option and the fix, exit 2.


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (("--cash", "lots"), ("--cash: expected a positive quote amount",)),
        (("--fee-rate", "0.1%"), ("--fee-rate: expected a fraction per side",)),
        (("--slippage-bps", "-2"), ("--slippage-bps: expected basis points",)),
        (("--fill", "open"), ("--fill: expected next-open or close",)),
        (("--stake", "half"), ("--stake: expected all, a share of equity",)),
        (("--start", "yesterday"), ("--start: expected an ISO 8601 UTC date",)),
        (("--end", "2024-01-05T10:00"), ("--end: expected an ISO 8601 UTC date",)),
        (
            ("--start", "2024-01-05", "--end", "2024-01-05"),
            ("--end 2024-01-05T00:00:00Z must be after --start",),
        ),
        (("--start", "2030-01-01"), ("--start/--end: no candles", "it holds")),
        (("--param", "fast"), ("--param: expected NAME=VALUE",)),
        (("--param", "speed=3"), ("--param speed: sma_cross has no such parameter",)),
        (("--param", "fast=ten"), ("--param fast: expected int",)),
        (("--param", "fast=40"), ("--param: sma_cross: fast (40) must be less",)),
        (("--report", "out.txt"), ("--report: name an .html file",)),
        (("--report", "/nonexistent/dir/r.html"), ("--report: folder",)),
    ],
)
def test_each_bad_value_names_its_option(
    cli: CliRunner, stored: Home, extra: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    assert_one_line_error(cli(*RUN, *extra), 2, *fragments)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("backtest", *SERIES), "--strategy is required"),
        (("backtest", "--strategy", "sma_cross"), "--exchange is required"),
        (
            ("backtest", "--strategy", "sma_cross", "--exchange", "coinbase"),
            "--symbol is required",
        ),
        (
            ("backtest", "--strategy", "sma_cross", *SERIES[:4]),
            "--timeframe is required",
        ),
        ((*RUN[:-1], "7m"), "unknown timeframe '7m'"),
        (
            ("backtest", "--strategy", "nope", *SERIES),
            "--strategy: no built-in strategy 'nope'",
        ),
        (
            ("backtest", "--strategy", "missing.py:Mine", *SERIES),
            "--strategy: strategy file missing.py does not exist",
        ),
        (("backtest", "--strategy", "sma_cross", *SERIES, "--cash"), "--cash"),
    ],
)
def test_missing_or_unknown_names_exit_2(
    cli: CliRunner, stored: Home, args: tuple[str, ...], fragment: str
) -> None:
    assert_one_line_error(cli(*args), 2, fragment)


def test_a_missing_series_says_how_to_get_it(cli: CliRunner, home: Home) -> None:
    outcome = cli(*RUN)
    assert_one_line_error(
        outcome,
        1,
        "no candles stored for coinbase BTC/USD 1h",
        "crypto-trader data download --exchange coinbase --symbol BTC/USD",
        "crypto-trader data import FILE",
    )


# Past runs.


def test_backtest_list_shows_past_runs_newest_first(
    cli: CliRunner, stored: Home
) -> None:
    assert as_json(cli("backtest", "list", "--json")) == []
    assert "no backtests yet" in cli("backtest", "list").out
    for fast in ("4", "6", "8"):
        assert cli(*RUN, "--param", f"fast={fast}").code == 0
    runs = as_json(cli("backtest", "list", "--json"))
    assert isinstance(runs, list)
    assert [run["id"] for run in runs] == [3, 2, 1]
    assert [run["params"]["fast"] for run in runs] == [8, 6, 4]
    first = runs[-1]
    assert (first["exchange"], first["symbol"], first["timeframe"]) == (
        "coinbase",
        "BTC/USD",
        "1h",
    )
    assert first["metrics"]["candles"] == COUNT
    assert first["config"]["fill"] == "next-open"
    assert first["start"] == "2024-01-01T00:00:00Z"
    limited = as_json(cli("backtest", "list", "--limit", "1", "--json"))
    assert isinstance(limited, list)
    assert [run["id"] for run in limited] == [3]
    lines = cli("backtest", "list").out.splitlines()
    assert len(lines) == 6
    assert lines[0].startswith("3  20")
    ran = "  sma_cross(fast=8, slow=30)  coinbase BTC/USD 1h  2024-01-01T00:00:00Z"
    assert ran in lines[0]
    assert lines[1].startswith("    return ")
    assert lines[1].endswith(f"{runs[0]['metrics']['trades']} trades")


def test_backtest_without_options_shows_its_help(cli: CliRunner) -> None:
    outcome = cli("backtest")
    assert "--strategy" in outcome.out + outcome.err
    assert "list" in outcome.out + outcome.err


# Strategies.


def test_strategies_list_json_describes_the_built_ins(cli: CliRunner) -> None:
    described = as_json(cli("strategies", "list", "--json"))
    assert isinstance(described, list)
    by_name = {entry["name"]: entry for entry in described}
    assert set(by_name) >= BUILT_INS
    for entry in by_name.values():
        assert entry["description"], entry["name"]
        for param in entry["params"]:
            assert param["low"] <= param["default"] <= param["high"]
    assert {p["name"] for p in by_name["sma_cross"]["params"]} == {"fast", "slow"}


def test_strategies_list_prints_a_table(cli: CliRunner) -> None:
    outcome = cli("strategies", "list")
    assert outcome.code == 0, outcome.err
    for name in BUILT_INS:
        assert name in outcome.out
    assert "path/to/file.py:ClassName" in outcome.out


def test_safe_table_shows_brackets_as_text() -> None:
    from rich.console import Console

    from crypto_trader.cli.context import SafeTable

    table = SafeTable("label")
    table.add_row("my [bold]key[/bold] [x]")
    out = Console(file=io.StringIO(), width=80)
    out.print(table)
    assert "my [bold]key[/bold] [x]" in out.file.getvalue()
