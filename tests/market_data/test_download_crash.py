"""A download killed with SIGKILL resumes to exactly the candles of an unbroken one."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crypto_trader.home import Home
from crypto_trader.market_data import download
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.download_pool import DownloadJob, download_all
from crypto_trader.market_data.series import series_id
from crypto_trader.market_data.timestamps import parse_timestamp_ms
from tests.market_data.conftest import assert_same_candles
from tests.market_data.fake_ohlcv_source import (
    CHILD_CANDLES,
    CHILD_PAGE,
    CHILD_SYMBOLS,
    child_exchange,
    open_child_source,
)
from tests.support.cli import REPO_ROOT, STARTUP_HOOKS, CliRunner, child_env

RUNNER = Path(__file__).with_name("download_child.py")
SOURCE = "tests.market_data.fake_ohlcv_source:open_child_source"
SINCE = "2024-01-01"
ARGS = ["data", "download", "--exchange", "binance", "--timeframe", "1h"]
ARGS += [arg for symbol in CHILD_SYMBOLS for arg in ("--symbol", symbol)]
ARGS += ["--since", SINCE]
SERIES = [series_id("binance", symbol, "1h") for symbol in CHILD_SYMBOLS]
STORE = "crypto_trader.market_data.candle_store"
WRITER = "crypto_trader.market_data.parquet_file"
FAKE = "tests.market_data.fake_ohlcv_source"
# Where the child dies. Each series is committed after its pages 1, 2, 4 and 8
# and at its end (see pending_candles): ten commits and file writes in all.
KILL_POINTS = {
    "between two requests": f"{FAKE}:FakeExchange.fetch_ohlcv:9",
    "page fetched, before its commit": f"{STORE}:CandleStore.merge:4",
    "temp file flushed, before the rename": f"{WRITER}:os.replace:6",
}


def run_download(home: Home, kill_at: str) -> int:
    overrides = {
        "CRYPTO_TRADER_HOME": str(home.root),
        "CRYPTO_TRADER_TEST_SOURCE": SOURCE,
        "PYTHONPATH": os.pathsep.join(
            map(str, (STARTUP_HOOKS, REPO_ROOT / "src", REPO_ROOT))
        ),
        "CRYPTO_TRADER_TEST_KILL_AT": kill_at,
    }
    child = subprocess.run(
        [sys.executable, str(RUNNER), *ARGS],
        env=child_env(**overrides),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return child.returncode


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory: pytest.TempPathFactory) -> CandleStore:
    """The store after a download that nothing interrupted, done in-process."""
    store = CandleStore(tmp_path_factory.mktemp("unbroken"))
    source = child_exchange()
    since_ms = parse_timestamp_ms(SINCE, "--since")
    jobs = [DownloadJob(series, source, since_ms) for series in SERIES]
    outcomes = download_all(store, jobs, time.monotonic, time.sleep)
    assert [o.result and o.result.added for o in outcomes] == [CHILD_CANDLES - 1] * 2
    assert source.count() == 2 * math.ceil((CHILD_CANDLES - 1) / CHILD_PAGE)
    return store


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", KILL_POINTS.values(), ids=list(KILL_POINTS))
def test_a_killed_download_resumes_to_the_same_candles(
    home: Home,
    unbroken: CandleStore,
    data_cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    kill_at: str,
) -> None:
    assert run_download(home, kill_at) == -signal.SIGKILL
    store = CandleStore.for_home(home)
    killed = {s: store.summary(s).candles for s in SERIES if store.exists(s)}
    assert sum(killed.values()) < 2 * (CHILD_CANDLES - 1)  # it died part way

    # The same command again, in this process to keep the test fast.
    monkeypatch.setattr(download, "open_source", open_child_source)
    resumed = data_cli(*ARGS)

    assert resumed.code == 0, resumed.err
    added = [int(n) for n in re.findall(r": (\d+) new candles", resumed.out)]
    assert sum(added) == 2 * (CHILD_CANDLES - 1) - sum(killed.values())
    for series in SERIES:
        assert_same_candles(store.load(series), unbroken.load(series))
        assert store.summary(series).gaps == ()
        folder = store.path(series).parent
        assert [p.name for p in folder.iterdir()] == ["1h.parquet"]
