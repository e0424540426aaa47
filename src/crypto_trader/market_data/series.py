"""Which candles a series holds: exchange, symbol and timeframe, and its file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from crypto_trader.errors import InputError
from crypto_trader.exchange_ids import check_exchange
from crypto_trader.market_data.symbols import Symbol, parse_symbol, symbol_from_folder
from crypto_trader.market_data.timeframes import Timeframe, parse_timeframe

SERIES_SUFFIX = ".parquet"
# ccxt ids are lower-case letters and digits; checked again here because the id
# becomes a folder name.
_EXCHANGE_ID = re.compile(r"[a-z0-9]{1,40}")


@dataclass(frozen=True, slots=True)
class SeriesId:
    """One series of candles: an exchange's market at one timeframe."""

    exchange: str
    symbol: Symbol
    timeframe: Timeframe

    def __post_init__(self) -> None:
        # Every part becomes a path component: refuse anything but a plain name.
        if not _EXCHANGE_ID.fullmatch(self.exchange):
            raise InputError(f"exchange id {self.exchange[:40]!r} is not a ccxt id")
        if not isinstance(self.symbol, Symbol):
            raise InputError(f"symbol {self.symbol!r} is not a parsed Symbol")
        if not isinstance(self.timeframe, Timeframe):
            raise InputError(f"timeframe {self.timeframe!r} is not a Timeframe")

    def __str__(self) -> str:
        return f"{self.exchange} {self.symbol} {self.timeframe}"

    @property
    def relative_path(self) -> PurePosixPath:
        """`<exchange>/<BASE>-<QUOTE>/<timeframe>.parquet` under the candle folder."""
        name = f"{self.timeframe}{SERIES_SUFFIX}"
        return PurePosixPath(self.exchange, self.symbol.folder_name, name)

    def sort_key(self) -> tuple[str, str, str, int]:
        """Exchange, then symbol, then the shorter timeframe first."""
        return (self.exchange, self.symbol.base, self.symbol.quote, self.timeframe.ms)


def series_id(exchange: str, symbol: str, timeframe: str) -> SeriesId:
    """Check what the user named and return the series; raises InputError."""
    exchange_id = check_exchange(exchange)
    return SeriesId(exchange_id, parse_symbol(symbol), parse_timeframe(timeframe))


def series_from_path(relative: PurePosixPath) -> SeriesId | None:
    """The series stored at `relative`, or None for a file that is not one."""
    if len(relative.parts) != 3 or relative.suffix != SERIES_SUFFIX:
        return None
    exchange, folder, _ = relative.parts
    symbol = symbol_from_folder(folder)
    timeframe = _timeframe_named(relative.stem)
    if symbol is None or timeframe is None or not _EXCHANGE_ID.fullmatch(exchange):
        return None
    return SeriesId(exchange, symbol, timeframe)


def _timeframe_named(name: str) -> Timeframe | None:
    try:
        return Timeframe(name)
    except ValueError:
        return None
