"""Risk limits from `config set risk.*`: audited, named when they refuse, acted on.

Each change writes CONFIGURATION_CHANGED; a bad value is refused in one line and
changes nothing. An entry over risk.max_position_value or past risk.max_open_orders
is not sent, and the terminal, the log and `trade status` name the limit. Reaching
risk.max_daily_loss_pct cancels open orders and halts until the next UTC day;
risk.stop_loss_pct and risk.take_profit_pct act as the backtest's stops.
"""

from __future__ import annotations

import signal

import pytest

from crypto_trader.backtest.model import EngineConfig, Fill, Stake, StakeKind
from crypto_trader.home import Home
from crypto_trader.settings import SETTINGS
from tests.support.cli import CliRunner
from tests.trading.conftest import (
    DAY_MS,
    HOUR_MS,
    PAPER_REPLAY,
    SAMPLE_OPTIONS,
    START_MS,
    audit_details,
    backtest_trades,
    candles_from_closes,
    home_env,
    import_sample,
    paper_trades,
    session_fills,
    session_orders,
    sessions,
    start_child,
    store_candles,
    trade_status,
    trading_records,
    wait_for,
    zigzag,
)

RISK_VALUES = {
    "risk.max_position_value": ("2500", 2500.0),
    "risk.max_open_orders": ("3", 3),
    "risk.max_daily_loss_pct": ("7.5", 7.5),
    "risk.stop_loss_pct": ("4", 4.0),
    "risk.take_profit_pct": ("12.5", 12.5),
}
SMA_FAST = ("--param", "fast=2", "--param", "slow=3")


def config_set(cli: CliRunner, name: str, value: str) -> None:
    outcome = cli("config", "set", name, value)
    assert outcome.code == 0, outcome.err


def stored(cli: CliRunner, name: str) -> str:
    outcome = cli("config", "get", name)
    assert outcome.code == 0, outcome.err
    return outcome.out.strip()


def log_text(home: Home) -> str:
    return "".join(path.read_text() for path in sorted(home.logs.glob("*.log*")))


# Settings


def test_every_risk_setting_is_covered() -> None:
    assert set(RISK_VALUES) == {name for name in SETTINGS if name.startswith("risk.")}


@pytest.mark.parametrize(("name", "value"), RISK_VALUES.items())
def test_each_risk_change_writes_a_configuration_record(
    cli: CliRunner, home: Home, name: str, value: tuple[str, float]
) -> None:
    text, parsed = value
    default = SETTINGS[name].default
    assert default == 0, "risk limits are off by default"

    outcome = cli("config", "set", name, text)

    assert outcome.code == 0, outcome.err
    assert outcome.out.strip() == f"{name}: {default} -> {parsed}"
    assert stored(cli, name) == str(parsed)
    (record,) = audit_details(home, "CONFIGURATION_CHANGED")
    assert record["setting"] == name
    assert (record["old"], record["new"]) == (default, parsed)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("risk.max_daily_loss_pct", "abc", "expected a number from 0 to 100"),
        ("risk.max_daily_loss_pct", "101", "expected a number from 0 to 100"),
        ("risk.max_daily_loss_pct", "nan", "expected a number from 0 to 100"),
        ("risk.stop_loss_pct", "100", "expected a number from 0 to below 100"),
        ("risk.max_open_orders", "1.5", "expected a whole number from 0 to 1000"),
        ("risk.max_position_value", "-- -1", "expected a number from 0 to 1e+15"),
        ("risk.take_profit_pct", "inf", "expected a number from 0 to 1e+15"),
    ],
)
def test_a_bad_value_is_refused_in_one_line_and_changes_nothing(
    cli: CliRunner, home: Home, name: str, text: str, expected: str
) -> None:
    config_set(cli, name, "2")
    before = audit_details(home, "CONFIGURATION_CHANGED")

    outcome = cli("config", "set", name, *text.split())

    assert outcome.code == 2
    assert outcome.out == ""
    value = text.split()[-1]
    assert outcome.err == f"error: {name}: {expected}; got {value!r}\n"
    assert stored(cli, name) == str(SETTINGS[name].parse("2"))
    assert audit_details(home, "CONFIGURATION_CHANGED") == before


def test_a_negative_value_without_a_separator_is_refused_naming_the_setting(
    cli: CliRunner, home: Home
) -> None:
    config_set(cli, "risk.max_daily_loss_pct", "5")

    outcome = cli("config", "set", "risk.max_daily_loss_pct", "-1")

    assert outcome.code == 2
    assert len(outcome.err.splitlines()) == 1
    assert stored(cli, "risk.max_daily_loss_pct") == "5.0"
    # The refusal must name the setting and what it accepts, not a missing option.
    assert outcome.err == (
        "error: risk.max_daily_loss_pct: expected a number from 0 to 100; got '-1'\n"
    ), f"product bug: `config set NAME -1` is read as an option: {outcome.err!r}"


# Refusals


def test_an_entry_over_the_max_position_value_is_refused_and_named(
    cli: CliRunner, home: Home
) -> None:
    import_sample(home, count=1500)
    config_set(cli, "risk.max_position_value", "1000")

    outcome = cli("trade", "--strategy", "sma_cross", *SAMPLE_OPTIONS, *PAPER_REPLAY)

    assert outcome.code == 0, outcome.err
    assert session_fills(home) == []
    assert session_orders(home) == []
    why = "BTC/USD buy not sent: risk.max_position_value (1000) would be exceeded"
    assert f"warning: {why}: the position would be worth 99" in outcome.err
    assert trade_status(cli)["last_refusal"].startswith(why)
    assert f"WARNING crypto_trader.trading.runner: {why}" in log_text(home)
    words = cli("trade", "status")
    assert f"last order refused: {why}" in words.out
    denied = audit_details(home, "PERMISSION_DENIED")
    assert denied, "a refused order writes PERMISSION_DENIED"
    assert {d["limit"] for d in denied} == {"risk.max_position_value"}
    assert {(d["operation"], d["symbol"], d["side"]) for d in denied} == {
        ("place_order", "BTC/USD", "buy")
    }
    assert all(d["reason"].startswith(why) for d in denied)


def test_each_refusal_is_shown_once_on_the_terminal(cli: CliRunner, home: Home) -> None:
    import_sample(home, count=1500)
    config_set(cli, "risk.max_position_value", "1000")

    outcome = cli("trade", "--strategy", "sma_cross", *SAMPLE_OPTIONS, *PAPER_REPLAY)

    assert outcome.code == 0, outcome.err
    why = "BTC/USD buy not sent: risk.max_position_value (1000)"
    refusals = log_text(home).count(f"crypto_trader.trading.runner: {why}")
    assert refusals >= 10
    shown = [line for line in outcome.err.splitlines() if why in line]
    assert len(shown) == refusals, (
        "product bug: each refusal is printed twice on stderr, once by the "
        "runner's notice and once by its log warning"
    )


def test_entries_within_the_max_position_value_trade_as_the_backtest(
    cli: CliRunner, home: Home
) -> None:
    candles = import_sample(home, count=1500)
    config_set(cli, "risk.max_position_value", "1000")

    outcome = cli(
        "trade",
        "--strategy",
        "sma_cross",
        *SAMPLE_OPTIONS,
        *PAPER_REPLAY,
        "--stake",
        "900",
    )

    assert outcome.code == 0, outcome.err
    expected, _ = backtest_trades(
        candles, "sma_cross", {}, EngineConfig(stake=Stake(StakeKind.AMOUNT, 900.0))
    )
    assert len(expected) >= 10
    assert paper_trades(session_fills(home), "BTC/USD") == expected
    assert trade_status(cli)["last_refusal"] is None
    assert "not sent" not in outcome.err


def test_an_entry_past_the_max_open_orders_is_refused_and_named(
    cli: CliRunner, home: Home
) -> None:
    # Both zigzags decide at every candle, at the same times: BTC's order is
    # in flight when ETH decides, and one open order is the limit.
    store_candles(home, candles_from_closes(zigzag(40)), "binance", "BTC/USDT")
    store_candles(
        home, candles_from_closes(zigzag(40, 200.0, 220.0)), "binance", "ETH/USDT"
    )
    config_set(cli, "risk.max_open_orders", "1")

    outcome = cli(
        "trade",
        "--strategy",
        "sma_cross",
        *SMA_FAST,
        "--exchange",
        "binance",
        "--symbol",
        "BTC/USDT",
        "--symbol",
        "ETH/USDT",
        "--timeframe",
        "1h",
        *PAPER_REPLAY,
    )

    assert outcome.code == 0, outcome.err
    fills = session_fills(home)
    assert {f["symbol"] for f in fills} == {"BTC/USDT"}
    assert len(fills) >= 30
    why = "ETH/USDT buy not sent: risk.max_open_orders (1) reached: 1 orders are open"
    assert f"warning: {why}" in outcome.err
    assert trade_status(cli)["last_refusal"] == why
    assert f"WARNING crypto_trader.trading.runner: {why}" in log_text(home)


# The daily loss halt

# Day one: an entry at 100, a rise, then a crash to 56 whose close decides an
# exit and breaks a 10% daily loss; flat to the day's end. Day two: a rise, then
# a fall that decides the exit again.
DAY_ONE = [100, 99, 98, 97, 98, 100, 102, 104, 106, 108, 110, 112, 56] + [56] * 11
DAY_TWO = [57, 60, 64, 70, 66, 62, 58, 55, 54, 53]
CRASH_MS = START_MS + 12 * HOUR_MS
SECOND_DAY_MS = START_MS + DAY_MS
QUARTER_MS = HOUR_MS // 4
HALT_ARGS = (
    "trade",
    "--strategy",
    "sma_cross",
    *SMA_FAST,
    "--exchange",
    "binance",
    "--symbol",
    "BTC/USDT",
    "--timeframe",
    "1h",
    *PAPER_REPLAY,
)
# The halt is the first change of state; being lifted the next day, the second.
KILL_WHEN_LIFTED = "crypto_trader.trading.store:TradeStore.set_state:2"


@pytest.mark.slow
def test_the_daily_loss_halt_cancels_orders_and_lifts_the_next_utc_day(
    cli: CliRunner, home: Home
) -> None:
    store_candles(home, candles_from_closes(DAY_ONE + DAY_TWO), "binance", "BTC/USDT")
    config_set(cli, "risk.max_daily_loss_pct", "10")

    # A runner killed just before the halt is lifted shows the halted books.
    child = start_child(
        *HALT_ARGS, env=home_env(home, CRYPTO_TRADER_TEST_KILL_AT=KILL_WHEN_LIFTED)
    )
    _, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, err
    reason = "risk.max_daily_loss_pct (10%) reached: equity "
    assert f"warning: trading halted: {reason}" in err
    halted = trade_status(cli)
    assert halted["state"] == "halted"
    assert halted["halt_reason"].startswith(reason)
    assert "below 10000.00 at the start of 2024-01-01 UTC" in halted["halt_reason"]
    assert "trade resume" in halted["halt_reason"]
    assert halted["open_orders"] == []
    sell = session_orders(home)[-1]
    assert (sell["side"], sell["candle_ms"]) == ("sell", CRASH_MS)
    assert (sell["state"], sell["note"]) == (
        "cancelled",
        "cancelled by the daily loss halt",
    )
    (halted_record,) = trading_records(home, "halted")
    assert halted_record["reason"] == halted["halt_reason"]
    (cancelled,) = trading_records(home, "cancelled")
    assert cancelled["client_order_id"] == sell["client_id"]
    assert [f["side"] for f in session_fills(home)] == ["buy"]

    resumed = cli(*HALT_ARGS)

    assert resumed.code == 0, resumed.err
    assert "resuming session 1" in resumed.out
    assert "resumed: a new UTC day began" in resumed.out
    (lifted,) = trading_records(home, "resumed")
    assert lifted["reason"] == "a new UTC day began"
    fills = session_fills(home)
    assert [f["side"] for f in fills] == ["buy", "sell"]
    assert fills[1]["candle_ms"] >= SECOND_DAY_MS
    status = trade_status(cli)
    assert (status["state"], status["halt_reason"]) == ("finished", None)
    orders = session_orders(home)
    assert not [o for o in orders if CRASH_MS < o["candle_ms"] < SECOND_DAY_MS]

    # An uninterrupted run halts and resumes the same way.
    again = cli(*HALT_ARGS)
    assert again.code == 0, again.err
    assert "warning: trading halted: " + reason in again.err
    assert _without_ids(session_fills(home, 2)) == _without_ids(fills)


@pytest.mark.slow
def test_trade_resume_lifts_a_daily_loss_halt_the_same_day(
    cli: CliRunner, home: Home
) -> None:
    # 15-minute candles, one every 0.05 s: the crash, then a zigzag that decides
    # an order at every candle for the rest of day one.
    closes = DAY_ONE[:13] + zigzag(70, 56.0, 60.0)
    candles = candles_from_closes(closes, step_ms=QUARTER_MS)
    store_candles(home, candles, "binance", "BTC/USDT", "15m")
    config_set(cli, "risk.max_daily_loss_pct", "10")
    args = [*HALT_ARGS[:-4], "15m", *PAPER_REPLAY, "--speed", "18000"]
    child = start_child(*args, env=home_env(home))
    try:
        wait_for(
            lambda: (
                child.poll() is not None
                or (bool(sessions(home)) and sessions(home)[0]["state"] == "halted")
            ),
            what="the daily loss halt",
        )
        assert child.poll() is None, child.communicate()
        crash_ms = START_MS + 12 * QUARTER_MS

        resumed = cli("trade", "resume")

        assert resumed.out == "session 1 resumed trading\n", resumed.err
        wait_for(
            lambda: (
                child.poll() is not None
                or any(f["candle_ms"] > crash_ms for f in session_fills(home))
            ),
            what="a fill after the resume",
        )
        after = [f for f in session_fills(home) if f["candle_ms"] > crash_ms]
        state = sessions(home)[0]["state"]
        assert after, (
            "product bug: after `trade resume` the runner halts again at the next "
            f"candle for the same day's loss and never trades (state {state})"
        )
        assert after[0]["candle_ms"] < START_MS + DAY_MS
    finally:
        cli("trade", "stop")
        child.communicate(timeout=30)


def _without_ids(fills: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [
        (f["side"], f["candle_ms"], f["amount"], f["price"], f["fee"], f["reason"])
        for f in fills
    ]


# Stop-loss and take-profit


@pytest.mark.parametrize(
    ("strategy", "settings", "stop_loss", "take_profit"),
    [
        pytest.param(
            "sma_cross",
            {"risk.stop_loss_pct": "1.5", "risk.take_profit_pct": "2"},
            0.015,
            0.02,
            id="sma-both",
        ),
        pytest.param(
            "rsi_reversion", {"risk.stop_loss_pct": "4"}, 0.04, None, id="rsi-tighter"
        ),
        pytest.param(
            "rsi_reversion",
            {"risk.stop_loss_pct": "25", "risk.take_profit_pct": "6"},
            0.1,
            0.06,
            id="rsi-looser-kept",
        ),
    ],
)
def test_risk_stops_act_as_the_backtests_stops(
    cli: CliRunner,
    home: Home,
    strategy: str,
    settings: dict[str, str],
    stop_loss: float,
    take_profit: float | None,
) -> None:
    candles = import_sample(home, count=6000)
    for name, value in settings.items():
        config_set(cli, name, value)
    config = EngineConfig(fill=Fill.CLOSE, stop_loss=stop_loss, take_profit=take_profit)
    expected, final_equity = backtest_trades(candles, strategy, {}, config)
    reasons = {t.exit_reason for t in expected}
    assert "stop-loss" in reasons
    assert ("take-profit" in reasons) is (take_profit is not None)

    outcome = cli(
        "trade",
        "--strategy",
        strategy,
        *SAMPLE_OPTIONS,
        *PAPER_REPLAY,
        "--fill",
        "close",
    )

    assert outcome.code == 0, outcome.err
    assert paper_trades(session_fills(home), "BTC/USD") == expected
    assert trade_status(cli)["equity"] == pytest.approx(final_equity, rel=1e-9, abs=0)
