"""The report's data: the documented shape, one value per candle, no NaN."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import numpy as np
import pytest

from crypto_trader.backtest.model import EngineConfig, Fill
from crypto_trader.backtest.report_data import report_data, report_title
from crypto_trader.backtest.runner import Backtest, backtest, conventions
from crypto_trader.backtest.strategy import Param, Signals, Stops, Strategy
from crypto_trader.market_data.candles import Candles, candles_from_arrays
from crypto_trader.market_data.series import series_id
from crypto_trader.market_data.timeframes import HOUR_MS

START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
SERIES = series_id("kraken", "BTC/EUR", "1h")
FEE = 0.001


def flat(count: int, price: float = 100.0) -> Candles:
    """`count` hourly candles that open and close at `price`."""
    times = START_MS + HOUR_MS * np.arange(count, dtype=np.int64)
    prices = np.full(count, price)
    return candles_from_arrays(
        times, prices, prices + 1, prices - 1, prices, np.ones(count)
    )


class EveryFour(Strategy):
    """Enters at candles 0, 4, 8, ... and exits two candles later."""

    name: ClassVar[str] = "every_four"
    params: ClassVar[tuple[Param, ...]] = (Param("offset", 0, 0, 3),)

    def signals(self, candles: Candles) -> Signals:
        index = np.arange(len(candles)) + int(self.values["offset"])
        warm = np.where(index < 2, np.nan, np.asarray(candles.close))
        return Signals(index % 4 == 0, index % 4 == 2, {"warm": warm})


class Stopped(EveryFour):
    """EveryFour with a 0.5% stop-loss: every flat candle's low hits it."""

    name: ClassVar[str] = "stopped"

    def stops(self) -> Stops:
        return Stops(stop_loss=0.005)


def test_metrics_read_the_engines_fill_candles() -> None:
    # Next-open: entries signalled at 0, 4, 8 fill at 1, 5, 9; exits signalled
    # at 2, 6, 10 fill at 3, 7, 11. Each trade is held at two closes, for 2 h,
    # and loses its two fees at a flat price.
    run = backtest(flat(12), SERIES, EveryFour(), EngineConfig(fee_rate=FEE))
    trades = run.result.trades
    assert trades.entry_index.tolist() == [1, 5, 9]
    assert trades.exit_index.tolist() == [3, 7, 11]
    keep = (1 - FEE) / (1 + FEE)  # what an all-in round trip keeps at one price
    assert run.metrics.final_equity == pytest.approx(10_000 * keep**3, rel=1e-12)
    assert run.metrics.fees_paid == pytest.approx(10_000 * (1 - keep**3), rel=1e-9)
    assert run.metrics.trades == 3
    assert run.metrics.exposure_pct == 50.0
    assert run.metrics.avg_trade_duration_hours == 2.0
    assert run.metrics.win_rate_pct == 0.0
    assert run.metrics.profit_factor == 0.0
    assert run.metrics.expectancy == pytest.approx(
        (run.metrics.final_equity - 10_000) / 3, rel=1e-12
    )


def test_close_fills_are_held_from_the_signal_candle() -> None:
    config = EngineConfig(fee_rate=FEE, fill=Fill.CLOSE)
    run = backtest(flat(12), SERIES, EveryFour(), config)
    assert run.result.trades.entry_index.tolist() == [0, 4, 8]
    assert run.result.trades.exit_index.tolist() == [2, 6, 10]
    assert run.metrics.exposure_pct == 50.0
    assert run.metrics.avg_trade_duration_hours == 2.0


def run_with_open_trade() -> Backtest:
    # The exit signalled on the last candle (10) never fills: the trade from
    # candle 9 is still open at the end.
    return backtest(flat(11), SERIES, EveryFour(), EngineConfig(fee_rate=FEE))


def test_the_report_data_has_the_documented_shape() -> None:
    run = run_with_open_trade()
    data = report_data(run)
    assert set(data) == {
        "title",
        "conventions",
        "metrics",
        "candles",
        "indicators",
        "equity",
        "drawdown_pct",
        "trades",
    }
    assert data["title"] == report_title(run)
    assert data["title"] == (
        "every_four(offset=0) on kraken BTC/EUR 1h, "
        "2024-01-01T00:00:00Z .. 2024-01-01T11:00:00Z"
    )
    assert data["conventions"] == conventions(run.config, "EUR")
    assert data["metrics"] == [
        {"label": label, "value": value} for label, value in run.metrics.labelled("EUR")
    ]
    assert {"label": "Fees paid [EUR]", "value": run.metrics.fees_paid} in data[
        "metrics"
    ]
    candles = data["candles"]
    assert set(candles) == {"time", "open", "high", "low", "close"}
    assert candles["time"] == [START_MS // 1000 + 3600 * i for i in range(11)]
    assert candles["high"] == [101.0] * 11
    for column in (*candles.values(), data["equity"], data["drawdown_pct"]):
        assert len(column) == 11
    assert data["equity"] == run.result.equity.tolist()
    assert all(value >= 0 for value in data["drawdown_pct"])
    assert data["drawdown_pct"][-1] > 0
    assert data["indicators"] == {"warm": [None, None, *([100.0] * 9)]}
    json.dumps(data, allow_nan=False)


def test_trades_carry_times_in_seconds_and_an_open_one_has_no_exit() -> None:
    run = run_with_open_trade()
    rows: list[dict[str, Any]] = report_data(run)["trades"]
    assert [row["exit_reason"] for row in rows] == ["signal", "signal", "open"]
    first, last = rows[0], rows[-1]
    assert first["entry_time"] == START_MS // 1000 + 3600
    assert first["exit_time"] == START_MS // 1000 + 3 * 3600
    assert (first["entry_price"], first["exit_price"]) == (100.0, 100.0)
    amount = 10_000 / (100 * (1 + FEE))
    assert first["amount"] == pytest.approx(amount, rel=1e-12)
    # A round trip at one price loses both fees: 2 * fee / (1 + fee) of the cost.
    assert first["pnl"] == pytest.approx(-2 * FEE * 10_000 / (1 + FEE), rel=1e-9)
    assert first["pnl_pct"] == pytest.approx(-2 * FEE / (1 + FEE) * 100, rel=1e-9)
    assert last["entry_time"] == START_MS // 1000 + 9 * 3600
    assert (last["exit_time"], last["exit_price"]) == (None, None)
    # Open: valued at the last close without an exit fee, so it lost its entry fee.
    cost = last["amount"] * 100.0 * (1 + FEE)
    assert last["pnl"] == pytest.approx(-last["amount"] * 100.0 * FEE, rel=1e-9)
    assert last["pnl_pct"] == pytest.approx(last["pnl"] / cost * 100, rel=1e-12)


def test_stop_exits_are_named() -> None:
    run = backtest(flat(12), SERIES, Stopped(), EngineConfig(fee_rate=FEE))
    reasons = {row["exit_reason"] for row in report_data(run)["trades"]}
    assert reasons == {"stop-loss"}
    assert any("stop-loss 0.5%" in line for line in report_data(run)["conventions"])
