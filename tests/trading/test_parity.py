"""A paper replay trades exactly as the backtest does, for every built-in strategy.

Each case replays the bundled coinbase BTC/USD 1h candles through `trade --mode
paper --replay` and backtests the same strategy, parameters and costs through the
backtest API; the fills must be the backtest's trades (entry and exit candles,
prices, amounts, exit reasons) and the final equity must agree to 1e-9 relative.
"""

from __future__ import annotations

import pytest

from crypto_trader.backtest.runner import build_strategy, parse_engine_config
from crypto_trader.backtest.strategies.registry import builtin_strategies
from crypto_trader.home import Home
from tests.support.cli import CliRunner
from tests.trading.conftest import (
    PAPER_REPLAY,
    SAMPLE_OPTIONS,
    backtest_trades,
    import_sample,
    paper_trades,
    session_fills,
    trade_status,
)

# Costs and fill rules: (fill, stake, fee rate, slippage in bps, cash).
DEFAULTS = ("next-open", "all", "0.001", "0", "10000")
CLOSE_HALF = ("close", "50%", "0.002", "5", "10000")
FIXED_AMOUNT = ("next-open", "2500", "0", "10", "5000")
CLOSE_ALL = ("close", "all", "0.0005", "2", "20000")

# Per strategy: a case id, its --param values and its costs. The last case of
# each uses the strategy's own stop (rsi_reversion's stop-loss, bollinger's
# trailing stop) where it has one, other parameters where it has none.
CASES: dict[str, list[tuple[str, dict[str, str], tuple[str, ...]]]] = {
    "sma_cross": [
        ("defaults", {}, DEFAULTS),
        ("close-half", {"fast": "5", "slow": "20"}, CLOSE_HALF),
        ("fixed-amount", {}, FIXED_AMOUNT),
        ("close-all", {"fast": "20", "slow": "50"}, CLOSE_ALL),
    ],
    "rsi_reversion": [
        ("defaults", {}, DEFAULTS),  # its default stop-loss is 10%
        ("close-half", {"stop_loss": "0"}, CLOSE_HALF),
        ("fixed-amount", {"period": "7", "stop_loss": "0.02"}, FIXED_AMOUNT),
        ("close-all-stop", {"stop_loss": "0.03"}, CLOSE_ALL),
    ],
    "bollinger_breakout": [
        ("defaults", {}, DEFAULTS),
        ("close-half-trailing", {"trailing_stop": "0.02"}, CLOSE_HALF),
        ("fixed-amount-trailing", {"trailing_stop": "0.05"}, FIXED_AMOUNT),
        ("close-all", {"window": "40", "width": "1.5"}, CLOSE_ALL),
    ],
    "macd": [
        ("defaults", {}, DEFAULTS),
        ("close-half", {"fast": "8", "slow": "21", "signal": "5"}, CLOSE_HALF),
        ("fixed-amount", {}, FIXED_AMOUNT),
        ("close-all", {"fast": "5", "slow": "35", "signal": "5"}, CLOSE_ALL),
    ],
}

PARAMETRISED = [
    pytest.param(strategy, params, costs, id=f"{strategy}-{case}")
    for strategy, cases in CASES.items()
    for case, params, costs in cases
]


def test_every_builtin_strategy_has_cases() -> None:
    assert set(CASES) == set(builtin_strategies())


@pytest.mark.parametrize(("strategy", "params", "costs"), PARAMETRISED)
def test_a_paper_replay_gives_the_backtests_trades_and_equity(
    cli: CliRunner,
    home: Home,
    strategy: str,
    params: dict[str, str],
    costs: tuple[str, str, str, str, str],
) -> None:
    candles = import_sample(home)
    fill, stake, fee_rate, slippage_bps, cash = costs
    config = parse_engine_config(cash, fee_rate, slippage_bps, fill, stake)
    expected, final_equity = backtest_trades(candles, strategy, params, config)
    assert len(expected) >= 20, "too few trades to show anything"
    stops = build_strategy(strategy, params).stops()
    reasons = {trade.exit_reason for trade in expected}
    assert bool(stops.stop_loss) == ("stop-loss" in reasons)
    assert bool(stops.trailing_stop) == ("trailing-stop" in reasons)

    outcome = cli(
        "trade",
        "--strategy",
        strategy,
        *SAMPLE_OPTIONS,
        *PAPER_REPLAY,
        *[
            arg
            for name, value in params.items()
            for arg in ("--param", f"{name}={value}")
        ],
        "--fill",
        fill,
        "--stake",
        stake,
        "--fee-rate",
        fee_rate,
        "--slippage-bps",
        slippage_bps,
        "--cash",
        cash,
    )

    assert outcome.code == 0, outcome.err
    assert "session 1 finished" in outcome.out
    trades = paper_trades(session_fills(home), "BTC/USD")
    assert trades == expected
    status = trade_status(cli)
    assert status["state"] == "finished"
    assert status["trades"] == len(expected)
    assert status["equity"] == pytest.approx(final_equity, rel=1e-9, abs=0)
