"""`bench/trade_speed.py` on small sizes: it measures what it claims to measure.

The replay goes through the real session code and ends on the backtest's trades and
equity; the latency broker sees one order per candle step from the last symbol;
the memory run notes both checkpoints; an anchor that is missed turns the exit
status to 1. The figures themselves are the bench's business, not the suite's.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from bench import trade_speed
from bench.backtest_speed import synthetic_candles

SMALL = (
    "--candles", "3000", "--repeat", "1", "--latency-candles", "20",
    "--latency-many-candles", "3", "--symbols", "3", "--memory-candles", "3000",
)  # fmt: skip


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code = trade_speed.main([*SMALL, "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_a_small_run_replays_as_the_backtest_and_reports_every_figure(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    work = tmp_path / "bench"
    work.mkdir()

    code, report = run_json(capsys, "--dir", str(work))

    assert code == 0, report["targets"]
    sample, synthetic = report["replay"]
    assert sample["candles"] == 20_111  # the whole bundled series
    assert synthetic["candles"] == 3000
    for row in report["replay"]:
        assert row["replay_trades"] == row["backtest_trades"] > 0
        assert row["equity_gap_rel"] <= 1e-9
        assert row["replay_candles_per_second"] > 0
    assert all(verdict["met"] for verdict in report["targets"].values())
    assert report["profile"] == []  # only when asked for or when too slow
    assert list(work.iterdir()) == []  # every throwaway home was removed

    shapes = [(r["books"][:4], r["symbols"], r["ordering"]) for r in report["latency"]]
    assert shapes == [
        (books, symbols, ordering)
        for books in ("live", "pape")
        for symbols, ordering in ((1, "-"), (3, "every symbol"), (3, "the last only"))
    ]
    for row in report["latency"]:
        assert row["samples"] == (20 if row["symbols"] == 1 else 3)
        assert 0 < row["median_us"] <= row["p99_us"] <= row["max_us"]


@pytest.mark.parametrize("all_order", [True, False])
def test_the_recording_broker_times_the_last_symbols_order_on_each_step(
    tmp_path: Path, all_order: bool
) -> None:
    with trade_speed.throwaway_home(tmp_path) as installation:
        samples = trade_speed.latency_samples(installation, 4, all_order, True, 6)

    # latency_samples stops the bench if a step sent other than the orders expected.
    assert len(samples) == 6
    assert all(sample > 0 for sample in samples)


def test_the_memory_run_notes_a_tenth_and_the_end(tmp_path: Path) -> None:
    candles = synthetic_candles(2000, seed=7)
    options = trade_speed.parse_options(["--dir", str(tmp_path)])
    calls = itertools.count()

    noted = trade_speed.memory_run(candles, options, lambda: next(calls))

    assert noted == {200: 0, 2000: 1}


def test_a_runner_that_grows_with_history_misses_the_memory_anchor() -> None:
    memory = {"candles": [10_000, 100_000], "traced_bytes": [50_000, 50_000 + 720_000]}

    verdicts = trade_speed.verdicts([], memory)

    (verdict,) = verdicts.values()
    assert verdict["figure"] == 720_000
    assert verdict["met"] is False


def test_a_missed_anchor_exits_1_and_prints_the_profile(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(trade_speed, "MIN_CANDLES_PER_SECOND", 1e12)

    code, report = run_json(capsys, "--dir", str(tmp_path))

    assert code == 1
    missed = [name for name, v in report["targets"].items() if not v["met"]]
    assert missed == [
        "replay candles/s, bundled coinbase BTC/USD 1h",
        "replay candles/s, synthetic BTC/USDT 1m, seed 42",
    ]
    assert any(
        "runner.py" in line and "on_candle" in line for line in report["profile"]
    )
