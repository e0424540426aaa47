"""`crypto-trader demo`: the bundled sample, sma_cross, the table and a report."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from crypto_trader.home import Home
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.samples import SAMPLE_SERIES, sample_series
from crypto_trader.storage.database import Database
from tests.support.cli import REPO_ROOT, CliRunner

SAMPLE_CANDLES = 20_111


def meta_names(home: Home) -> set[str]:
    db = Database(home.database)
    try:
        return {row[0] for row in db.connection.execute("SELECT name FROM meta")}
    finally:
        db.close()


def test_demo_backtests_the_sample_and_writes_a_report(
    cli: CliRunner, home: Home
) -> None:
    outcome = cli("demo")
    assert outcome.code == 0, outcome.err
    assert f"demo home: {home.root}" in outcome.out
    assert f"imported {SAMPLE_CANDLES} candles of coinbase BTC/USD 1h" in outcome.out
    assert "sma_cross(fast=" in outcome.out
    assert "Total return [%]" in outcome.out
    assert "Sharpe ratio [annualised]" in outcome.out
    report = home.reports / "demo-sma_cross.html"
    assert f"report written to {report}" in outcome.out
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.reports.stat().st_mode) == 0o700
    assert "Buy-and-hold return [%]" in report.read_text()

    assert len(CandleStore.for_home(home).load(SAMPLE_SERIES)) == SAMPLE_CANDLES
    runs = json.loads(cli("backtest", "list", "--json").out)
    assert [(run["strategy"], run["report"]) for run in runs] == [
        ("sma_cross", str(report))
    ]
    assert runs[0]["metrics"]["candles"] == SAMPLE_CANDLES
    # No key was needed: the vault was never opened.
    assert not home.master_key_file.exists()
    assert meta_names(home) == set()


def test_without_a_home_the_demo_makes_a_fresh_one(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CRYPTO_TRADER_HOME")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    outcome = cli("demo")
    assert outcome.code == 0, outcome.err
    (made,) = scratch.iterdir()
    assert made.name.startswith("crypto-trader-demo-")
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert f"demo home: {made} (a fresh temporary folder" in outcome.out
    fresh = Home(made)
    assert (fresh.reports / "demo-sma_cross.html").is_file()
    assert CandleStore.for_home(fresh).exists(SAMPLE_SERIES)
    assert any(fresh.logs.iterdir())
    assert f"crypto-trader --home {made} backtest --strategy" in outcome.out


def test_demo_runs_on_a_fresh_machine_without_keys_or_prompts(tmp_path: Path) -> None:
    # What `make run` does: a real process, no key store settings, no keyring
    # (no session bus), no terminal to prompt on.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CRYPTO_TRADER_", "DBUS_", "PYTHON_KEYRING"))
    }
    env["PYTHONPATH"] = str(REPO_ROOT / "src")
    env["CRYPTO_TRADER_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "-m", "crypto_trader", "demo"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "report written to" in done.stdout
    home = Home(tmp_path / "home")
    assert (home.reports / "demo-sma_cross.html").is_file()
    assert meta_names(home) == set()


def test_demo_never_overwrites_stored_candles(cli: CliRunner, home: Home) -> None:
    sample = sample_series()
    mine = sample.take(slice(0, 500))
    CandleStore.for_home(home).merge(SAMPLE_SERIES, mine)
    outcome = cli("demo")
    assert outcome.code == 0, outcome.err
    assert "coinbase BTC/USD 1h is already stored here" in outcome.out
    kept = CandleStore.for_home(home).load(SAMPLE_SERIES)
    assert kept.timestamp_ms.tolist() == mine.timestamp_ms.tolist()
    runs = json.loads(cli("backtest", "list", "--json").out)
    assert runs[0]["metrics"]["candles"] == 500
