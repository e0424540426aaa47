"""`crypto-trader data download` and `data update`, in-process, on fake exchanges."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from rich.console import Console

from crypto_trader.cli import context
from crypto_trader.errors import ConfigurationError, ExchangeError
from crypto_trader.market_data import download
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.series import series_id
from crypto_trader.market_data.timeframes import HOUR_MS
from tests.market_data.conftest import START_MS, assert_same_candles
from tests.market_data.fake_ohlcv_source import Failure, FakeExchange, hourly
from tests.support.cli import CliRunner

NOW_MS = START_MS + 100 * HOUR_MS + HOUR_MS // 2  # 100 closed candles, one open
BTC = series_id("binance", "BTC/USDT", "1h")
ETH = series_id("binance", "ETH/USDT", "1h")
ETH_EUR = series_id("kraken", "ETH/EUR", "1h")
DOWNLOAD = ["data", "download", "--exchange", "binance", "--timeframe", "1h"]


@dataclass
class Exchanges:
    """The fake exchanges `open_source` hands out, and who asked for which."""

    by_id: dict[str, FakeExchange]
    opened: list[tuple[str, str | None]] = field(default_factory=list)

    def open(
        self, installation: object, exchange_id: str, key_label: str | None
    ) -> FakeExchange:
        self.opened.append((exchange_id, key_label))
        if exchange_id not in self.by_id:
            raise ConfigurationError(f"{exchange_id} cannot be reached")
        return self.by_id[exchange_id]


@pytest.fixture
def exchanges(monkeypatch: pytest.MonkeyPatch) -> Exchanges:
    binance = FakeExchange(
        {"BTC/USDT": hourly(101, seed=1), "ETH/USDT": hourly(101, seed=2)},
        NOW_MS,
        page=40,
    )
    kraken = FakeExchange(
        {"ETH/EUR": hourly(101, seed=3)}, NOW_MS, page=720, exchange_id="kraken"
    )
    fakes = Exchanges({"binance": binance, "kraken": kraken})
    monkeypatch.setattr(download, "open_source", fakes.open)
    return fakes


def test_download_two_symbols(
    data_cli: CliRunner, exchanges: Exchanges, store: CandleStore
) -> None:
    binance = exchanges.by_id["binance"]

    done = data_cli(
        *DOWNLOAD,
        *("--symbol", "BTC/USDT", "--symbol", "eth/usdt", "--symbol", "BTC/USDT"),
        *("--since", "2024-01-01", "--until", "2024-01-05T00:00:00Z"),
    )

    assert done.code == 0, done.err
    assert done.err == ""  # stderr is not a terminal: no progress bar
    assert done.out.splitlines() == [
        f"binance {symbol} 1h: 96 new candles in 3 requests; stored "
        "2024-01-01T00:00:00Z .. 2024-01-04T23:00:00Z, 96 candles, no gaps"
        for symbol in ("BTC/USDT", "ETH/USDT")
    ]
    assert exchanges.opened == [("binance", None)]
    assert binance.closed == 1
    assert binance.count("BTC/USDT") == binance.count("ETH/USDT") == 3
    assert_same_candles(store.load(ETH), binance.history["ETH/USDT"].take(slice(0, 96)))


def test_download_without_since_continues_or_starts_thirty_days_back(
    data_cli: CliRunner, exchanges: Exchanges, store: CandleStore
) -> None:
    binance = exchanges.by_id["binance"]
    store.merge(BTC, binance.history["BTC/USDT"].take(slice(0, 60)))

    for symbol in ("BTC/USDT", "ETH/USDT"):
        done = data_cli(*DOWNLOAD, "--symbol", symbol)
        assert done.code == 0, done.err

    assert binance.sinces("BTC/USDT") == [START_MS + 60 * HOUR_MS]
    assert binance.sinces("ETH/USDT")[0] == NOW_MS - 30 * 24 * HOUR_MS + HOUR_MS // 2
    assert_same_candles(store.load(BTC), binance.history["BTC/USDT"].take(slice(100)))


def test_the_key_label_reaches_the_exchange_layer(
    data_cli: CliRunner, exchanges: Exchanges
) -> None:
    done = data_cli(*DOWNLOAD, "--symbol", "BTC/USDT", "--key", "main-binance")
    assert done.code == 0, done.err
    assert exchanges.opened == [("binance", "main-binance")]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--since", "2024-01-02", "--until", "2024-01-02"],
            "--until 2024-01-02T00:00:00Z must be after --since "
            "2024-01-02T00:00:00Z (--until is exclusive)",
        ),
        (["--since", "yesterday"], "--since: expected an ISO 8601 UTC date"),
        (["--until", "2024-01-02T00:00:00+02:00"], "--until: expected an ISO 8601"),
        (["--timeframe", "1M"], "timeframe '1M': calendar months differ in length"),
        (["--symbol", "BTCUSDT"], "symbol 'BTCUSDT': expected BASE/QUOTE"),
        (["--exchange", "nowhere"], "unknown exchange 'nowhere'"),
    ],
)
def test_bad_options_are_one_line_usage_errors(
    data_cli: CliRunner, exchanges: Exchanges, options: list[str], message: str
) -> None:
    done = data_cli(*DOWNLOAD, "--symbol", "BTC/USDT", *options)
    assert done.code == 2
    assert done.err.startswith(f"error: {message}")
    assert done.err.count("\n") == 1
    assert exchanges.by_id["binance"].count() == 0


def test_symbol_is_required(data_cli: CliRunner, exchanges: Exchanges) -> None:
    done = data_cli(*DOWNLOAD)
    assert done.code == 2
    assert "--symbol" in done.err


def test_an_unknown_symbol_is_named(data_cli: CliRunner, exchanges: Exchanges) -> None:
    done = data_cli(*DOWNLOAD, "--symbol", "DOGE/XYZ")
    assert (done.code, done.out) == (2, "")
    assert done.err == ("error: binance DOGE/XYZ 1h: binance has no market DOGE/XYZ\n")


def test_one_failing_symbol_leaves_the_others_stored(
    data_cli: CliRunner, exchanges: Exchanges, store: CandleStore
) -> None:
    binance = exchanges.by_id["binance"]
    binance.failures = {"ETH/USDT": Failure(1, ExchangeError("binance timed out"))}

    done = data_cli(
        *DOWNLOAD,
        *("--symbol", "BTC/USDT", "--symbol", "ETH/USDT", "--symbol", "DOGE/XYZ"),
        *("--since", "2024-01-01"),
    )

    assert done.code == 1  # an exchange error and an input error: a failure
    assert done.out.startswith("binance BTC/USDT 1h: 100 new candles in 3 requests")
    assert done.err.splitlines() == [
        "error: binance ETH/USDT 1h: binance timed out",
        "error: binance DOGE/XYZ 1h: binance has no market DOGE/XYZ",
    ]
    assert store.summary(BTC).candles == 100
    assert store.summary(ETH).candles == 40  # its first page stays
    assert binance.closed == 1


def test_update_brings_every_series_up_to_now(
    data_cli: CliRunner, exchanges: Exchanges, store: CandleStore
) -> None:
    binance, kraken = exchanges.by_id["binance"], exchanges.by_id["kraken"]
    store.merge(BTC, binance.history["BTC/USDT"].take(slice(0, 10)))
    store.merge(ETH_EUR, kraken.history["ETH/EUR"].take(slice(0, 1)))

    done = data_cli("data", "update")

    assert done.code == 0, done.err
    assert done.out.splitlines() == [
        "binance BTC/USDT 1h: 90 new candles in 3 requests; stored "
        "2024-01-01T00:00:00Z .. 2024-01-05T03:00:00Z, 100 candles, no gaps",
        "kraken ETH/EUR 1h: 99 new candles in 1 request; stored "
        "2024-01-01T00:00:00Z .. 2024-01-05T03:00:00Z, 100 candles, no gaps",
    ]
    assert exchanges.opened == [("binance", None), ("kraken", None)]
    assert (binance.closed, kraken.closed) == (1, 1)
    assert not store.exists(ETH)

    again = data_cli("data", "update", "--exchange", "kraken")
    assert again.out == (
        "kraken ETH/EUR 1h: 0 new candles in 0 requests; stored "
        "2024-01-01T00:00:00Z .. 2024-01-05T03:00:00Z, 100 candles, no gaps\n"
    )
    assert exchanges.opened[-1] == ("kraken", None)


def test_update_reports_an_exchange_it_cannot_reach(
    data_cli: CliRunner, exchanges: Exchanges, store: CandleStore
) -> None:
    store.merge(BTC, exchanges.by_id["binance"].history["BTC/USDT"].take(slice(3)))
    coinbase = series_id("coinbase", "BTC/USD", "1h")
    store.merge(coinbase, hourly(3))

    done = data_cli("data", "update")

    assert done.code == 1
    assert done.out.startswith("binance BTC/USDT 1h: 97 new candles")
    assert done.err == "error: coinbase BTC/USD 1h: coinbase cannot be reached\n"


def test_update_with_nothing_stored(data_cli: CliRunner, exchanges: Exchanges) -> None:
    done = data_cli("data", "update")
    assert done.code == 0
    assert "no stored series to update" in done.out
    assert exchanges.opened == []


def test_update_checks_the_exchange_id(data_cli: CliRunner) -> None:
    done = data_cli("data", "update", "--exchange", "no such")
    assert done.code == 2
    assert done.err.startswith("error: unknown exchange 'no such'")


def test_a_progress_bar_on_a_terminal(
    data_cli: CliRunner, exchanges: Exchanges, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = Console(stderr=True, force_terminal=True, width=100)
    monkeypatch.setattr(context, "errors", terminal)

    done = data_cli(*DOWNLOAD, "--symbol", "BTC/USDT", "--since", "2024-01-01")

    assert done.code == 0, done.err
    assert "binance BTC/USDT 1h" in done.err
    assert "100/100" in done.err


def test_an_unexpected_failure_is_an_internal_error_line(
    data_cli: CliRunner, exchanges: Exchanges, store: CandleStore
) -> None:
    binance = exchanges.by_id["binance"]
    binance.failures = {"BTC/USDT": Failure(0, RuntimeError("a bug"))}

    done = data_cli(*DOWNLOAD, "--symbol", "BTC/USDT")

    assert (done.code, done.out) == (1, "")
    assert done.err == (
        "error: binance BTC/USDT 1h: internal error (RuntimeError); details are "
        "in the log under logs/ in the home directory\n"
    )
