"""One series' Parquet file: its schema, an atomic write and a checked read."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from crypto_trader.errors import IntegrityError
from crypto_trader.market_data.candles import (
    COLUMNS,
    Candles,
    Int64Array,
    candles_from_columns,
)
from crypto_trader.secure_fs import FILE_MODE, fsync_dir

SCHEMA = pa.schema(
    [pa.field("timestamp_ms", pa.int64(), nullable=False)]
    + [pa.field(name, pa.float64(), nullable=False) for name in COLUMNS[1:]],
    metadata={"crypto_trader.candles": "1"},
)
TEMP_SUFFIX = ".tmp"
# zstd's fastest regular level (pyarrow's default, pinned here): on candles it
# compresses about as well as higher levels and writes faster. Open times are
# delta-encoded first, which shrinks them to almost nothing.
ZSTD_LEVEL = 1


def write_candles(path: Path, candles: Candles) -> None:
    """Replace `path` with `candles` so that a crash leaves the old or the new file.

    The data goes to a 0600 temporary file beside it, is flushed to disk, and is
    renamed over `path`; the folder entry is flushed too.
    """
    table = pa.Table.from_arrays(
        [pa.array(column) for column in candles.columns()], schema=SCHEMA
    )
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    temp = temp.with_name(temp.name + TEMP_SUFFIX)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as sink:
            pq.write_table(
                table,
                sink,
                compression="zstd",
                compression_level=ZSTD_LEVEL,
                use_dictionary=False,
                column_encoding={"timestamp_ms": "DELTA_BINARY_PACKED"},
            )
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def read_candles(path: Path) -> Candles:
    """Read a series written by `write_candles`; raises IntegrityError if it is not."""
    table = _read(path, list(COLUMNS))
    _check_schema(path, table)
    columns = [table.column(name).to_numpy() for name in COLUMNS]
    _check_order(path, columns[0])
    return candles_from_columns(columns)


def read_timestamps(path: Path) -> Int64Array:
    """Only the open times of a series, for listings and gap checks."""
    table = _read(path, ["timestamp_ms"])
    column = table.column(0)
    if column.type != pa.int64() or column.null_count:
        raise _foreign(path)
    timestamps: Int64Array = column.to_numpy()
    _check_order(path, timestamps)
    return timestamps


def is_temp_file(name: str) -> bool:
    """Whether `name` is a temporary file that `write_candles` leaves behind a crash."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def _read(path: Path, columns: list[str]) -> pa.Table:
    # ParquetFile.read returns one chunk per row group, so that a series of up
    # to a million candles comes out as arrays numpy uses without a copy.
    try:
        with pq.ParquetFile(path) as source:
            return source.read(columns=columns)
    except (pa.ArrowException, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise _foreign(path) from exc


def _check_schema(path: Path, table: pa.Table) -> None:
    expected = [(f.name, f.type) for f in SCHEMA]
    found = [(f.name, f.type) for f in table.schema]
    nulls = any(column.null_count for column in table.columns)
    if found != expected or nulls:
        raise _foreign(path)


def _check_order(path: Path, timestamps: Int64Array) -> None:
    if len(timestamps) > 1 and not bool(np.all(timestamps[1:] > timestamps[:-1])):
        raise _foreign(path)


def _foreign(path: Path) -> IntegrityError:
    return IntegrityError(
        f"{path} is not a valid candle file (unreadable, wrong columns, or unsorted); "
        "remove the series with `crypto-trader data remove` and collect it again"
    )
