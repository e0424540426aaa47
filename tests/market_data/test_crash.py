"""A real SIGKILL while a series is rewritten: the old file or the new, never half."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from crypto_trader.home import Home
from crypto_trader.market_data.candle_import import import_candles
from crypto_trader.market_data.candle_store import CandleStore
from tests.market_data.conftest import (
    BTC_USDT_1H,
    assert_same_candles,
    candle_rows,
    make_candles,
    write_csv,
)
from tests.support.cli import child_env

HOUR = 3_600_000
# Runs the command line with `data` registered, as cli/main.py registers it.
CHILD = (
    "import sys\n"
    "from typer.models import TyperInfo\n"
    "from crypto_trader.cli import data_commands, main\n"
    "if 'data' not in {g.name for g in main.app.registered_groups}:\n"
    "    main.app.registered_groups.append(TyperInfo(data_commands.app, name='data'))\n"
    "sys.exit(main.main(sys.argv[1:]))\n"
)
SERIES = ["--exchange", "binance", "--symbol", "BTC/USDT", "--timeframe", "1h"]
WRITER = "crypto_trader.market_data.parquet_file"
# Where the child dies, how many candles the series then has, and whether the
# temporary file is left behind.
KILL_POINTS = {
    "temp file written, before its fsync": (f"{WRITER}:os.fsync:1", 50, True),
    "temp file flushed, before the rename": (f"{WRITER}:os.replace:1", 50, True),
    "renamed, before the folder's fsync": (f"{WRITER}:fsync_dir:1", 100, False),
}


def run_import(home: Home, path: Path, kill_at: str | None = None) -> int:
    overrides = {"CRYPTO_TRADER_HOME": str(home.root)}
    if kill_at:
        overrides["CRYPTO_TRADER_TEST_KILL_AT"] = kill_at
    child = subprocess.run(
        [sys.executable, "-c", CHILD, "data", "import", str(path), *SERIES],
        env=child_env(**overrides),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return child.returncode


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kill_at", "candles", "temp_left"), KILL_POINTS.values(), ids=list(KILL_POINTS)
)
def test_a_killed_import_leaves_a_whole_file(
    home: Home, tmp_path: Path, kill_at: str, candles: int, temp_left: bool
) -> None:
    everything = make_candles(100)
    store = CandleStore.for_home(home)
    store.merge(BTC_USDT_1H, everything.take(slice(0, 50)))
    path = write_csv(tmp_path / "more.csv", candle_rows(everything)[50:])

    assert run_import(home, path, kill_at) == -signal.SIGKILL

    folder = store.path(BTC_USDT_1H).parent
    temps = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert bool(temps) is temp_left
    assert store.series() == [BTC_USDT_1H]
    assert_same_candles(store.load(BTC_USDT_1H), everything.take(slice(0, candles)))
    import_candles(store, path, BTC_USDT_1H)
    assert_same_candles(store.load(BTC_USDT_1H), everything)
    assert [p.name for p in folder.iterdir()] == ["1h.parquet"]
