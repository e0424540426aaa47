"""Symbols and series ids: what the user names, and the paths that follow from it."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from crypto_trader.errors import InputError
from crypto_trader.market_data.series import SeriesId, series_from_path, series_id
from crypto_trader.market_data.symbols import Symbol, parse_symbol, symbol_from_folder
from crypto_trader.market_data.timeframes import Timeframe


def test_a_symbol_is_parsed_and_upper_cased() -> None:
    symbol = parse_symbol(" btc/usdt ")
    assert symbol == Symbol("BTC", "USDT")
    assert str(symbol) == "BTC/USDT"
    assert symbol.folder_name == "BTC-USDT"
    assert parse_symbol("1000PEPE/USDC").base == "1000PEPE"


@pytest.mark.parametrize(
    "text",
    [
        "../x/y",
        "BTC/../USDT",
        "BTC/USDT/EUR",
        "BTC-USDT",
        "BTCUSDT",
        "BTC/US.DT",
        "BT C/USDT",
        "/USDT",
        "BTC/",
        "BTC\\USDT",
        "BTC/USDT:USDT",
        "..",
        "BTC/ÜSDT",
        "A" * 21 + "/USDT",
    ],
)
def test_anything_but_plain_letters_and_digits_is_refused(text: str) -> None:
    with pytest.raises(InputError, match=r"expected BASE/QUOTE such as BTC/USDT"):
        parse_symbol(text)


def test_a_symbol_built_directly_is_checked_too() -> None:
    with pytest.raises(InputError):
        Symbol("..", "USDT")
    with pytest.raises(InputError):
        Symbol("BTC", "x/../y")


def test_a_series_maps_to_exchange_symbol_and_timeframe_folders() -> None:
    series = series_id("Binance", "eth/btc", "4h")
    assert series == SeriesId("binance", Symbol("ETH", "BTC"), Timeframe.H4)
    assert str(series) == "binance ETH/BTC 4h"
    assert series.relative_path == PurePosixPath("binance/ETH-BTC/4h.parquet")


@pytest.mark.parametrize("exchange", ["../binance", "binance/..", "nosuchexchange", ""])
def test_an_unknown_or_path_like_exchange_is_refused(exchange: str) -> None:
    with pytest.raises(InputError, match="unknown exchange"):
        series_id(exchange, "BTC/USDT", "1h")


def test_a_series_built_directly_refuses_path_like_parts() -> None:
    with pytest.raises(InputError, match="not a ccxt id"):
        SeriesId("..", Symbol("BTC", "USDT"), Timeframe.H1)
    with pytest.raises(InputError, match="not a Timeframe"):
        SeriesId("binance", Symbol("BTC", "USDT"), "../1h")  # type: ignore[arg-type]


def test_a_stored_path_maps_back_to_its_series() -> None:
    series = series_id("kraken", "XBT/EUR", "1d")
    assert series_from_path(series.relative_path) == series


@pytest.mark.parametrize(
    "path",
    [
        "binance/BTC-USDT/1h.csv",
        "binance/BTC-USDT/1M.parquet",
        "binance/BTC_USDT/1h.parquet",
        "binance/BTC-USDT-X/1h.parquet",
        "Binance/BTC-USDT/1h.parquet",
        "binance/BTC-USDT/extra/1h.parquet",
        "binance/.1h.parquet.123.ab.tmp",
    ],
)
def test_other_files_are_not_series(path: str) -> None:
    assert series_from_path(PurePosixPath(path)) is None


def test_a_folder_name_must_be_base_dash_quote() -> None:
    assert symbol_from_folder("ETH-BTC") == Symbol("ETH", "BTC")
    assert symbol_from_folder("..") is None
    assert symbol_from_folder("eth-btc") is None
