"""`data download` end to end: real ccxt over TLS to the Binance stand-in."""

from __future__ import annotations

import math

from crypto_trader.home import Home
from crypto_trader.market_data import CandleStore, series_id
from tests.support.cli import CliRunner
from tests.support.exchange_standins.binance import BinanceStandin
from tests.support.exchange_standins.book import synthetic_candles
from tests.support.exchange_standins.tls import TestAuthorities

START_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
HOUR_MS = 3_600_000
KLINES = "/api/v3/klines"


def test_download_stores_every_candle_in_the_fewest_requests(
    cli: CliRunner,
    home: Home,
    binance: BinanceStandin,
    standin_authorities: TestAuthorities,
) -> None:
    count = 2_500
    candles = synthetic_candles(START_MS, count, "1h", seed=11)
    binance.add_candles("BTC/USDT", "1h", candles)
    trust = cli(
        "config", "set", "exchange.extra_ca_file", str(standin_authorities.ca_cert_path)
    )
    assert trust.code == 0, trust.err

    until = "2020-04-14T04:00:00Z"  # START + 2,500 hours
    first = cli(
        "data",
        "download",
        "--exchange",
        "binance",
        "--symbol",
        "BTC/USDT",
        "--timeframe",
        "1h",
        "--since",
        "2020-01-01",
        "--until",
        until,
    )
    again = cli(
        "data",
        "download",
        "--exchange",
        "binance",
        "--symbol",
        "BTC/USDT",
        "--timeframe",
        "1h",
        "--since",
        "2020-01-01",
        "--until",
        until,
    )

    assert first.code == 0, first.err
    assert again.code == 0, again.err
    stored = CandleStore.for_home(home).load(series_id("binance", "BTC/USDT", "1h"))
    assert stored.timestamp_ms.tolist() == [row[0] for row in candles]
    assert stored.close.tolist() == [float(row[4]) for row in candles]
    assert len(binance.requests_to(KLINES, "GET")) == math.ceil(count / 1000)
    assert binance.methods_seen() == {"GET"}
