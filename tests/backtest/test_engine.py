"""The engine against scenarios worked out by hand, one convention at a time.

Prices and a fee rate of 25% are chosen so that every amount is exact in binary:
each expected value below is arithmetic a person can check on paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from crypto_trader.backtest.engine import CONVENTIONS, simulate, with_stops
from crypto_trader.backtest.model import EngineConfig, Fill, SimResult, Stake, StakeKind
from crypto_trader.backtest.strategy import Signals, Stops
from crypto_trader.errors import InputError
from crypto_trader.market_data.candles import Candles, candles_from_arrays

START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
HOUR_MS = 3_600_000
SIGNAL, STOP_LOSS, TAKE_PROFIT, TRAILING, OPEN = 0, 1, 2, 3, -1

Bar = tuple[float, float, float, float]  # open, high, low, close


def candles(*bars: Bar) -> Candles:
    rows = np.array(bars, dtype=np.float64).reshape(-1, 4)
    count = len(rows)
    times = START_MS + HOUR_MS * np.arange(count)
    return candles_from_arrays(times, *rows.T, np.ones(count))


def flat(*closes: float) -> Candles:
    """Candles that open at the previous close and never leave open..close."""
    opens = (closes[0], *closes[:-1])
    return candles(
        *((o, max(o, c), min(o, c), c) for o, c in zip(opens, closes, strict=True))
    )


def signals(
    count: int, entries: Sequence[int] = (), exits: Sequence[int] = ()
) -> Signals:
    entry = np.zeros(count, dtype=np.bool_)
    exit_ = np.zeros(count, dtype=np.bool_)
    entry[list(entries)] = True
    exit_[list(exits)] = True
    return Signals(entry, exit_)


def run(bars: Candles, sig: Signals, **config: object) -> SimResult:
    return simulate(bars, sig, EngineConfig(**config))  # type: ignore[arg-type]


def trade_rows(result: SimResult) -> list[tuple[object, ...]]:
    t = result.trades
    return [
        (
            int(t.entry_index[k]),
            int(t.exit_index[k]),
            float(t.entry_price[k]),
            float(t.exit_price[k]),
            float(t.amount[k]),
            float(t.entry_fee[k]),
            float(t.exit_fee[k]),
            float(t.pnl[k]),
            int(t.exit_reason[k]),
        )
        for k in range(len(t))
    ]


# Candles 0..4: opens 100, 100, 110, 120, 130; closes 100, 110, 120, 130, 140.
RISING = candles(
    (100, 100, 100, 100),
    (100, 110, 100, 110),
    (110, 120, 110, 120),
    (120, 130, 120, 130),
    (130, 140, 130, 140),
)


def test_all_in_next_open_with_fee() -> None:
    # Signals at closes 0 and 2 fill at the opens of candles 1 (100) and 3 (120).
    result = run(RISING, signals(5, [0], [2]), cash=10_000.0, fee_rate=0.25)

    # amount = cash / (price * (1 + fee_rate)) = 10000 / (100 * 1.25) = 80
    # entry fee = 80 * 100 * 0.25 = 2000; cash left 0
    # exit: 80 * 120 = 9600, fee 2400, cash 7200; pnl = 9600 - 2400 - 8000 - 2000
    assert trade_rows(result) == [
        (1, 3, 100.0, 120.0, 80.0, 2000.0, 2400.0, -2800.0, 0)
    ]
    assert result.equity.tolist() == [10_000.0, 80 * 110, 80 * 120, 7200.0, 7200.0]
    assert result.final_equity == 7200.0
    assert result.final_cash == 7200.0
    assert result.fees_paid == 4400.0


def test_all_in_at_close() -> None:
    # The same signals fill at the closes of candles 0 (100) and 2 (120).
    result = run(RISING, signals(5, [0], [2]), fee_rate=0.25, fill=Fill.CLOSE)

    assert trade_rows(result) == [
        (0, 2, 100.0, 120.0, 80.0, 2000.0, 2400.0, -2800.0, 0)
    ]
    # Equity at close 0 is the position: 80 * 100 (the fee is gone).
    assert result.equity.tolist() == [8000.0, 80 * 110, 7200.0, 7200.0, 7200.0]


def test_the_all_in_formula_with_a_real_fee() -> None:
    result = run(RISING, signals(5, [0]), cash=1000.0, fee_rate=0.001)

    amount = 1000.0 / (100.0 * (1 + 0.001))
    assert result.trades.amount[0] == pytest.approx(amount, rel=1e-15)
    assert result.trades.entry_fee[0] == pytest.approx(amount * 100 * 0.001, rel=1e-15)
    assert 0.0 <= result.final_cash < 1e-9  # all of it spent, never below zero
    assert result.final_equity == pytest.approx(amount * 140, rel=1e-15)


def test_slippage_makes_buys_dearer_and_sales_cheaper() -> None:
    # 100 bps: buy at 100 * 1.01 = 101, sell at 120 * 0.99 = 118.8; no fee.
    result = run(RISING, signals(5, [0], [2]), fee_rate=0.0, slippage_bps=100.0)

    (row,) = trade_rows(result)
    amount = 10_000 / 101
    assert row[:2] == (1, 3)
    assert row[2:5] == pytest.approx((101.0, 118.8, amount), rel=1e-15)
    assert result.final_equity == pytest.approx(amount * 118.8, rel=1e-15)


def test_a_signal_on_the_last_candle_never_fills_under_next_open() -> None:
    result = run(RISING, signals(5, [4]), fee_rate=0.25)

    assert len(result.trades) == 0
    assert result.equity.tolist() == [10_000.0] * 5


def test_a_signal_on_the_last_candle_fills_at_its_close() -> None:
    result = run(RISING, signals(5, [4]), fee_rate=0.25, fill=Fill.CLOSE)

    # Bought at 140 and still open: 10000 / (140 * 1.25) held, valued at 140.
    amount = 10_000 / 175
    assert trade_rows(result) == [
        (4, -1, 140.0, 140.0, amount, amount * 35, 0.0, -amount * 35, OPEN)
    ]
    assert result.final_equity == amount * 140


def test_an_open_position_is_valued_at_the_last_close_without_exit_fee() -> None:
    # Entry at open 1 (100); the exit signal on the last candle cannot fill.
    result = run(RISING, signals(5, [0], [4]), fee_rate=0.25)

    # 80 held at the last close 140 = 11200; no exit fee; pnl 11200 - 10000.
    assert trade_rows(result) == [
        (1, -1, 100.0, 140.0, 80.0, 2000.0, 0.0, 1200.0, OPEN)
    ]
    assert len(result.trades) == 1  # an open position counts as a trade
    assert result.final_equity == 11_200.0
    assert result.final_cash == 0.0
    assert result.fees_paid == 2000.0


def test_stake_fraction_of_equity() -> None:
    # 25% of 10000 = 2500 spent fee included: 2500 / (100 * 1.25) = 20 at 100.
    stake = Stake(StakeKind.FRACTION, 0.25)
    result = run(RISING, signals(5, [0, 3], [2]), fee_rate=0.25, stake=stake)

    # Exit at 120: 2400 - 600 = 1800 back; cash 7500 + 1800 = 9300.
    # Second entry at open 4 (130): 25% of 9300 = 2325 -> 2325 / (130 * 1.25).
    rows = trade_rows(result)
    assert rows[0] == (1, 3, 100.0, 120.0, 20.0, 500.0, 600.0, -700.0, 0)
    second = 2325 / 162.5
    assert rows[1][:5] == (4, -1, 130.0, 140.0, pytest.approx(second, rel=1e-15))
    assert result.equity.tolist()[:4] == [10_000.0, 7500 + 20 * 110, 7500 + 2400, 9300]
    assert result.final_equity == pytest.approx(9300 - 2325 + second * 140, rel=1e-15)


def test_stake_amount_and_its_cap_at_the_cash() -> None:
    small = run(
        RISING, signals(5, [0]), fee_rate=0.25, stake=Stake(StakeKind.AMOUNT, 500)
    )
    large = run(
        RISING, signals(5, [0]), fee_rate=0.25, stake=Stake(StakeKind.AMOUNT, 50_000)
    )

    # 500 quote fee included: 500 / 125 = 4 at 100, cash 9500.
    assert small.trades.amount.tolist() == [4.0]
    assert small.final_cash == 9500.0
    assert small.final_equity == 9500.0 + 4 * 140
    # More than the cash: the cash, as all-in.
    assert large.trades.amount.tolist() == [80.0]
    assert large.final_cash == 0.0


def test_stop_loss_fills_at_its_level_inside_the_candle() -> None:
    bars = candles(
        (100, 100, 100, 100),
        (100, 105, 95, 100),  # entry at 100; stop at 90 not reached
        (100, 101, 85, 88),  # low 85 passes 90: out at 90
        (88, 90, 88, 90),
    )

    result = run(bars, signals(4, [0]), fee_rate=0.0, stop_loss=0.1)

    assert trade_rows(result) == [
        (1, 2, 100.0, 90.0, 100.0, 0.0, 0.0, -1000.0, STOP_LOSS)
    ]
    assert result.equity.tolist() == [10_000.0, 10_000.0, 9000.0, 9000.0]


def test_take_profit_fills_at_its_level_inside_the_candle() -> None:
    bars = candles((100, 100, 100, 100), (100, 110, 99, 110), (110, 125, 108, 112))

    result = run(bars, signals(3, [0]), fee_rate=0.0, take_profit=0.2)

    assert trade_rows(result) == [
        (1, 2, 100.0, 120.0, 100.0, 0.0, 0.0, 2000.0, TAKE_PROFIT)
    ]


def test_the_stop_is_assumed_first_when_both_levels_are_in_one_candle() -> None:
    bars = candles((100, 100, 100, 100), (100, 101, 99, 100), (100, 130, 80, 100))

    result = run(bars, signals(3, [0]), fee_rate=0.0, stop_loss=0.1, take_profit=0.2)

    assert trade_rows(result)[0][3] == 90.0
    assert trade_rows(result)[0][8] == STOP_LOSS


def test_a_gap_through_the_stop_fills_at_the_open() -> None:
    bars = candles((100, 100, 100, 100), (100, 101, 99, 100), (80, 82, 78, 81))

    result = run(bars, signals(3, [0]), fee_rate=0.0, stop_loss=0.1)

    assert trade_rows(result) == [
        (1, 2, 100.0, 80.0, 100.0, 0.0, 0.0, -2000.0, STOP_LOSS)
    ]


def test_a_gap_through_the_take_profit_fills_at_the_open() -> None:
    bars = candles((100, 100, 100, 100), (100, 101, 99, 100), (130, 135, 125, 131))

    result = run(bars, signals(3, [0]), fee_rate=0.0, take_profit=0.2)

    assert trade_rows(result)[0][3] == 130.0
    assert trade_rows(result)[0][8] == TAKE_PROFIT


def test_stops_fill_with_slippage_and_fee() -> None:
    bars = candles((100, 100, 100, 100), (100, 101, 99, 100), (100, 100, 50, 60))

    result = run(
        bars, signals(3, [0]), fee_rate=0.25, slippage_bps=100.0, stop_loss=0.5
    )

    # Entry at 101 (slipped), amount 10000 / (101 * 1.25); stop level 50.5,
    # reached by the low 50, sold at 50.5 * 0.99 and charged 25%.
    amount = 10_000 / (101 * 1.25)
    exit_price = 101 * 0.5 * 0.99
    assert result.trades.exit_price[0] == pytest.approx(exit_price, rel=1e-15)
    assert result.final_equity == pytest.approx(amount * exit_price * 0.75, rel=1e-15)


def test_the_trailing_stop_follows_the_highest_high_from_the_next_candle() -> None:
    bars = candles(
        (100, 100, 100, 100),
        (100, 150, 91, 140),  # entry at 100: trail 90, low 91 holds; peak 150 after
        (140, 141, 136, 137),  # trail 135: holds
        (137, 160, 130, 150),  # trail 135 before this candle's high: hit at 135
        (150, 150, 150, 150),
    )

    result = run(bars, signals(5, [0]), fee_rate=0.0, trailing_stop=0.1)

    assert trade_rows(result) == [
        (1, 3, 100.0, 135.0, 100.0, 0.0, 0.0, 3500.0, TRAILING)
    ]


def test_the_higher_of_stop_loss_and_trailing_stop_decides() -> None:
    bars = candles(
        (100, 100, 100, 100), (100, 120, 100, 118), (118, 119, 95, 96), (96, 96, 96, 96)
    )

    # Stop-loss at 90, trailing 10% below the peak 120 = 108: the trailing one
    # is higher and fills first.
    result = run(bars, signals(4, [0]), fee_rate=0.0, stop_loss=0.1, trailing_stop=0.1)

    assert trade_rows(result)[0][2:4] == (100.0, 108.0)
    assert trade_rows(result)[0][8] == TRAILING


def test_the_entry_candle_is_checked_under_next_open() -> None:
    # Bought at the open 100; the same candle falls to 85: stop at 90.
    bars = candles((100, 100, 100, 100), (100, 100, 85, 86), (86, 86, 86, 86))

    result = run(bars, signals(3, [0]), fee_rate=0.0, stop_loss=0.1)

    assert trade_rows(result)[0][:4] == (1, 1, 100.0, 90.0)


def test_checks_start_after_the_entry_candle_under_close() -> None:
    # Bought at the close 100 of a candle whose low was 50: that came before.
    bars = candles((120, 120, 50, 100), (100, 101, 95, 96), (96, 96, 80, 85))

    result = run(bars, signals(3, [0]), fee_rate=0.0, stop_loss=0.1, fill=Fill.CLOSE)

    assert trade_rows(result)[0][:4] == (0, 2, 100.0, 90.0)


def test_after_a_stop_the_next_entry_signal_enters_again() -> None:
    bars = candles(
        (100, 100, 100, 100),
        (100, 100, 80, 85),  # entry at 100, stop at 90
        (85, 86, 84, 85),  # entry signal at this close
        (85, 90, 85, 90),  # entry at 85
    )

    result = run(bars, signals(4, [0, 2]), fee_rate=0.0, stop_loss=0.1)

    assert [row[:2] for row in trade_rows(result)] == [(1, 1), (3, -1)]


def test_exit_wins_over_entry_on_the_same_candle() -> None:
    # Long since candle 1: exit and entry at close 2 -> exit at open 3.
    # Flat at candle 3: exit and entry at close 3 -> nothing.
    result = run(RISING, signals(5, [0, 2, 3], [2, 3]), fee_rate=0.0)

    assert [row[:2] for row in trade_rows(result)] == [(1, 3)]


def test_entry_while_long_and_exit_while_flat_do_nothing() -> None:
    result = run(RISING, signals(5, [1, 2], [0, 3]), fee_rate=0.0)

    assert [row[:2] for row in trade_rows(result)] == [(2, 4)]


def test_trades_count_entries_with_several_round_trips() -> None:
    bars = flat(10, 11, 12, 13, 14, 15, 16, 17)

    result = run(bars, signals(8, [0, 2, 4, 6], [1, 3, 5]), fee_rate=0.0)

    # Filled at the next opens (the previous closes): 11->12, 13->14, 15->16, 17.
    assert [row[:4] for row in trade_rows(result)] == [
        (1, 2, 10.0, 11.0),
        (3, 4, 12.0, 13.0),
        (5, 6, 14.0, 15.0),
        (7, -1, 16.0, 17.0),
    ]
    growth = (11 / 10) * (13 / 12) * (15 / 14) * (17 / 16)
    assert result.final_equity == pytest.approx(10_000 * growth, rel=1e-14)


def test_equity_is_cash_plus_position_at_every_close() -> None:
    rng = np.random.default_rng(7)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 300)))
    bars = flat(*closes)
    entries = rng.random(300) < 0.1
    exits = rng.random(300) < 0.1

    result = simulate(bars, Signals(entries, exits), EngineConfig(stop_loss=0.03))

    t = result.trades
    held = np.zeros(300)
    for k in range(len(t)):
        end = t.exit_index[k] if t.exit_index[k] >= 0 else 300
        held[t.entry_index[k] : end] = t.amount[k]
    cash = result.equity - held * bars.close
    assert np.all(cash >= 0)
    assert result.final_equity == pytest.approx(
        result.final_cash + held[-1] * closes[-1]
    )
    assert result.fees_paid == pytest.approx(t.entry_fee.sum() + t.exit_fee.sum())
    assert np.allclose(t.pnl.sum(), result.final_equity - 10_000)


def test_the_same_run_gives_the_same_bits() -> None:
    rng = np.random.default_rng(3)
    bars = flat(*(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 500)))))
    sig = Signals(rng.random(500) < 0.05, rng.random(500) < 0.05)
    config = EngineConfig(trailing_stop=0.02, take_profit=0.05, slippage_bps=3)

    first, second = simulate(bars, sig, config), simulate(bars, sig, config)

    assert first.equity.tobytes() == second.equity.tobytes()
    assert trade_rows(first) == trade_rows(second)


def test_no_candles() -> None:
    result = run(candles(), signals(0))

    assert len(result.trades) == 0
    assert result.final_equity == 10_000.0
    assert result.equity.shape == (0,)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"cash": 0.0}, "cash must be an amount above 0"),
        ({"cash": float("inf")}, "cash must be an amount above 0"),
        ({"fee_rate": -0.1}, "fee rate must be"),
        ({"fee_rate": float("nan")}, "fee rate must be"),
        ({"slippage_bps": -1.0}, "slippage must be"),
        ({"stop_loss": 1.0}, "stop-loss must be a fraction above 0 and below 1"),
        ({"take_profit": 0.0}, "take-profit must be a fraction above 0"),
        ({"trailing_stop": -0.1}, "trailing stop must be"),
        ({"stake": Stake(StakeKind.FRACTION, 1.5)}, "stake fraction must be"),
        ({"stake": Stake(StakeKind.AMOUNT, 0.0)}, "stake amount must be above 0"),
        ({"fill": "tomorrow"}, "fill must be next-open or close"),
    ],
)
def test_settings_out_of_range_are_refused(
    config: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        run(RISING, signals(5), **config)


def test_signals_of_the_wrong_length_or_type_are_refused() -> None:
    with pytest.raises(InputError, match=r"entries has shape \(4,\).*\(5\)"):
        simulate(
            RISING,
            Signals(np.zeros(4, np.bool_), np.zeros(5, np.bool_)),
            EngineConfig(),
        )
    with pytest.raises(InputError, match="exits must be booleans"):
        simulate(RISING, Signals(np.zeros(5, np.bool_), np.zeros(5)), EngineConfig())


def test_strategy_stops_fill_only_what_the_config_leaves_unset() -> None:
    config = with_stops(EngineConfig(stop_loss=0.02), Stops(0.05, 0.1, None))

    assert (config.stop_loss, config.take_profit, config.trailing_stop) == (
        0.02,
        0.1,
        None,
    )


def test_the_conventions_are_stated() -> None:
    text = " ".join(CONVENTIONS)

    for phrase in (
        "next-open",
        "cash / (price * (1 + fee_rate))",
        "stop",
        "last close",
    ):
        assert phrase in text
