"""The runner: candles from the store in [start, end), options checked, one run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from crypto_trader.backtest import runner
from crypto_trader.backtest.model import EngineConfig, Fill, Stake, StakeKind
from crypto_trader.backtest.runner import (
    backtest,
    build_strategy,
    conventions,
    load_candles,
    parse_engine_config,
    parse_fill,
    parse_params,
    parse_stake,
    run_backtest,
    stake_text,
)
from crypto_trader.backtest.strategy import Param, Signals, Stops, Strategy
from crypto_trader.errors import InputError, NotFoundError
from crypto_trader.home import Home
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.candles import Candles, candles_from_arrays
from crypto_trader.market_data.series import series_id
from crypto_trader.market_data.timeframes import HOUR_MS

START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
SERIES = series_id("binance", "ETH/USDT", "1h")
REPO = Path(__file__).parents[2]


def walk(count: int, seed: int = 3) -> Candles:
    """`count` hourly candles: a seeded random walk."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, count)))
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) * 1.002
    low = np.minimum(open_, close) * 0.998
    times = START_MS + HOUR_MS * np.arange(count, dtype=np.int64)
    return candles_from_arrays(times, open_, high, low, close, np.ones(count))


class EveryFew(Strategy):
    """Enters every `period` candles and exits half a period later."""

    name: ClassVar[str] = "every_few"
    params: ClassVar[tuple[Param, ...]] = (Param("period", 4, 2, 100),)

    def signals(self, candles: Candles) -> Signals:
        index = np.arange(len(candles))
        period = int(self.values["period"])
        return Signals(
            entries=index % period == 0,
            exits=index % period == period // 2,
            indicators={"close_x2": np.asarray(candles.close) * 2},
        )


class Guarded(EveryFew):
    """EveryFew with a 5% stop-loss and a 10% take-profit."""

    name: ClassVar[str] = "guarded"

    def stops(self) -> Stops:
        return Stops(stop_loss=0.05, take_profit=0.10)


class Broken(EveryFew):
    """Returns one signal too few."""

    name: ClassVar[str] = "broken"

    def signals(self, candles: Candles) -> Signals:
        full = super().signals(candles)
        return Signals(full.entries[:-1], full.exits[:-1])


@pytest.fixture
def store(home: Home) -> CandleStore:
    filled = CandleStore.for_home(home)
    filled.merge(SERIES, walk(10))
    return filled


# Candles in [start, end).


def test_start_is_inclusive_and_end_exclusive(store: CandleStore) -> None:
    times = walk(10).timestamp_ms
    picked = load_candles(store, SERIES, int(times[2]), int(times[5]))
    assert picked.timestamp_ms.tolist() == times[2:5].tolist()
    between = load_candles(store, SERIES, int(times[2]) + 1, int(times[5]) + 1)
    assert between.timestamp_ms.tolist() == times[3:6].tolist()
    assert len(load_candles(store, SERIES)) == 10
    assert len(load_candles(store, SERIES, end_ms=int(times[1]))) == 1


def test_a_span_without_candles_names_the_options_and_the_stored_span(
    store: CandleStore,
) -> None:
    with pytest.raises(InputError) as caught:
        load_candles(store, SERIES, START_MS + 100 * HOUR_MS, None)
    message = str(caught.value)
    assert message.startswith("--start/--end: no candles of binance ETH/USDT 1h")
    assert "2024-01-01T00:00:00Z .. 2024-01-01T09:00:00Z" in message


def test_a_missing_series_says_how_to_download_or_import_it(home: Home) -> None:
    with pytest.raises(NotFoundError) as caught:
        load_candles(CandleStore.for_home(home), SERIES)
    message = str(caught.value)
    options = "--exchange binance --symbol ETH/USDT --timeframe 1h"
    assert f"crypto-trader data download {options}" in message
    assert f"crypto-trader data import FILE {options}" in message


# Options.


@pytest.mark.parametrize(
    ("text", "stake"),
    [
        ("all", Stake()),
        (" ALL ", Stake()),
        ("25%", Stake(StakeKind.FRACTION, 0.25)),
        ("100%", Stake(StakeKind.FRACTION, 1.0)),
        ("500", Stake(StakeKind.AMOUNT, 500.0)),
        ("0.5", Stake(StakeKind.AMOUNT, 0.5)),
    ],
)
def test_stakes_parse(text: str, stake: Stake) -> None:
    assert parse_stake(text) == stake


@pytest.mark.parametrize("text", ["half", "0%", "-5%", "150%", "0", "-1", "nan", "inf"])
def test_bad_stakes_name_the_option_and_the_forms(text: str) -> None:
    with pytest.raises(InputError, match=r"^--stake: ") as caught:
        parse_stake(text)
    assert "%" in str(caught.value)


def test_stakes_print_as_they_are_written() -> None:
    assert [stake_text(parse_stake(t)) for t in ("all", "25%", "500")] == [
        "all",
        "25%",
        "500",
    ]


def test_fills_parse() -> None:
    assert parse_fill("next-open") is Fill.NEXT_OPEN
    assert parse_fill("Close") is Fill.CLOSE
    with pytest.raises(InputError, match=r"^--fill: expected next-open or close"):
        parse_fill("open")


def test_good_engine_settings_parse() -> None:
    config = parse_engine_config("2500.5", "0", "12.5", "close", "25%")
    assert config == EngineConfig(
        cash=2500.5,
        fee_rate=0.0,
        slippage_bps=12.5,
        fill=Fill.CLOSE,
        stake=Stake(StakeKind.FRACTION, 0.25),
    )


@pytest.mark.parametrize(
    ("index", "bad", "option"),
    [
        (0, "lots", "--cash"),
        (0, "0", "--cash"),
        (0, "-100", "--cash"),
        (0, "inf", "--cash"),
        (1, "-0.001", "--fee-rate"),
        (1, "1", "--fee-rate"),
        (1, "0.1%", "--fee-rate"),
        (2, "-1", "--slippage-bps"),
        (2, "10000", "--slippage-bps"),
        (2, "nan", "--slippage-bps"),
        (3, "mid", "--fill"),
        (4, "some", "--stake"),
    ],
)
def test_each_bad_setting_names_its_option_and_an_example(
    index: int, bad: str, option: str
) -> None:
    values = ["10000", "0.001", "0", "next-open", "all"]
    values[index] = bad
    with pytest.raises(InputError) as caught:
        parse_engine_config(*values)
    message = str(caught.value)
    assert message.startswith(f"{option}: expected ")
    assert repr(bad) in message
    assert "\n" not in message


def test_params_parse_and_refuse_bad_forms() -> None:
    assert parse_params(["fast=10", " slow = 30 "]) == {"fast": "10", "slow": "30"}
    for bad in (["fast"], ["=3"], ["fast="]):
        with pytest.raises(InputError, match=r"^--param: expected NAME=VALUE"):
            parse_params(bad)
    with pytest.raises(InputError, match=r"^--param fast: given twice"):
        parse_params(["fast=1", "fast=2"])


def test_an_unknown_param_names_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "load_strategy", lambda spec: EveryFew)
    assert build_strategy("every_few", {"period": "6"}).values == {"period": 6}
    with pytest.raises(InputError) as caught:
        build_strategy("every_few", {"speed": "6"})
    assert str(caught.value) == (
        "--param speed: every_few has no such parameter; its parameters: period"
    )


# One run.


def test_a_run_measures_the_engine_result() -> None:
    candles = walk(40)
    run = backtest(candles, SERIES, EveryFew(period=6), EngineConfig(cash=1000.0))
    assert run.metrics.candles == 40
    assert run.metrics.trades == len(run.result.trades) > 0
    assert run.metrics.final_equity == run.result.final_equity
    assert run.metrics.fees_paid == run.result.fees_paid > 0
    values = run.to_json()
    assert values["strategy"] == "every_few"
    assert values["params"] == {"period": 6}
    assert (values["exchange"], values["symbol"], values["timeframe"]) == (
        "binance",
        "ETH/USDT",
        "1h",
    )
    assert values["config"]["stake"] == "all"
    assert values["conventions"] == conventions(run.config, "USDT")
    json.dumps(values, allow_nan=False)


def test_the_strategy_stops_join_the_config_and_the_conventions() -> None:
    run = backtest(walk(40), SERIES, Guarded(), EngineConfig())
    assert (run.config.stop_loss, run.config.take_profit) == (0.05, 0.10)
    assert run.config.trailing_stop is None
    assert run.to_json()["config"]["stop_loss"] == 0.05
    stated = " ".join(run.to_json()["conventions"])
    assert "stop-loss 5%, take-profit 10%" in stated
    assert "stop first" in stated


def test_conventions_state_fills_fees_slippage_and_stake() -> None:
    config = EngineConfig(
        fee_rate=0.0025, slippage_bps=5, fill=Fill.CLOSE, stake=parse_stake("500")
    )
    stated = " ".join(conventions(config, "EUR"))
    assert "at the close of the signal's candle" in stated
    assert "0.25% of the notional on each side" in stated
    assert "5 bps against every fill" in stated
    assert "spends 500 EUR" in stated
    assert "no stop-loss" in stated
    default = " ".join(conventions(EngineConfig(), "EUR"))
    assert "the open of the candle after the signal" in default
    assert "signal on the last candle never fills" in default
    assert "cash / (price * (1 + fee_rate))" in default


def test_a_strategy_with_too_few_signals_is_refused() -> None:
    with pytest.raises(InputError, match="one value per candle"):
        backtest(walk(12), SERIES, Broken(), EngineConfig())


def test_run_backtest_reads_the_span_from_the_store(store: CandleStore) -> None:
    times = walk(10).timestamp_ms
    run = run_backtest(
        store, SERIES, EveryFew(), EngineConfig(), int(times[1]), int(times[9])
    )
    assert run.metrics.candles == 8
    assert run.metrics.start == "2024-01-01T01:00:00Z"
    assert run.metrics.end == "2024-01-01T09:00:00Z"


# The backtest path needs no credentials.

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import numpy as np

    from crypto_trader.backtest.report_data import report_data
    from crypto_trader.backtest.runner import build_strategy, run_backtest
    from crypto_trader.backtest.runs import BacktestRuns, RunRecord
    from crypto_trader.backtest.model import EngineConfig
    from crypto_trader.clock import system_clock
    from crypto_trader.home import Home
    from crypto_trader.market_data.candle_store import CandleStore
    from crypto_trader.market_data.candles import candles_from_arrays
    from crypto_trader.market_data.series import series_id
    from crypto_trader.storage.database import Database

    home = Home(Path(sys.argv[1])).ensure()
    count = 300
    close = 100 + 10 * np.sin(np.arange(count) / 9.0)
    times = 1_704_067_200_000 + 3_600_000 * np.arange(count)
    candles = candles_from_arrays(
        times, close, close * 1.01, close * 0.99, close, np.ones(count)
    )
    series = series_id("coinbase", "BTC/USD", "1h")
    store = CandleStore.for_home(home)
    store.merge(series, candles)
    strategy = build_strategy("sma_cross", {"fast": "3", "slow": "12"})
    run = run_backtest(store, series, strategy, EngineConfig())
    data = report_data(run)
    db = Database(home.database)
    BacktestRuns(db, system_clock).add(
        RunRecord("sma_cross", {}, "coinbase", "BTC/USD", "1h", "a", "b", {}, {})
    )
    db.close()
    loaded = sorted(
        name for name in sys.modules
        if name.split(".")[0] == "ccxt" or name.startswith("crypto_trader.vault")
        or name == "crypto_trader.installation"
    )
    print(run.metrics.trades, len(data["candles"]["time"]), loaded)
    """
)


def test_the_backtest_path_imports_neither_ccxt_nor_the_vault(tmp_path: Path) -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CRYPTO_TRADER_")
    }
    env["PYTHONPATH"] = str(REPO / "src")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "home")],
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    trades, candles, loaded = done.stdout.split(" ", 2)
    assert int(trades) > 0
    assert int(candles) == 300
    assert loaded.strip() == "[]"
