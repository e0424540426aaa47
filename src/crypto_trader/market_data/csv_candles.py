"""Reading candles from CSV fast, and finding the first bad row when one is bad.

Lines are counted as in a text editor: the header is on line 1 (after any blank
lines before it) and blank lines are skipped but counted. Values may not span
lines. The whole file is parsed by pyarrow in one go; only when that fails, or a
row breaks a rule, is the file scanned again to name the line.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, TextIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from crypto_trader.errors import InputError
from crypto_trader.market_data.candle_checks import Finding, earliest, first_invalid
from crypto_trader.market_data.candle_columns import (
    ISO_TIME,
    match_columns,
    table_to_candles,
)
from crypto_trader.market_data.candles import Candles
from crypto_trader.market_data.timeframes import Timeframe

_MAX_LINE_CHARS = 64 * 1024
_TYPES: dict[str, pa.DataType] = {
    "timestamp_ms": pa.int64(),
    ISO_TIME: pa.timestamp("ms", tz="UTC"),
    "open": pa.float64(),
    "high": pa.float64(),
    "low": pa.float64(),
    "close": pa.float64(),
    "volume": pa.float64(),
}
_UNPARSEABLE = {
    "timestamp_ms": "is not a whole number of milliseconds",
    ISO_TIME: "is not an ISO 8601 time with a zone; write UTC as 2024-01-31T12:00:00Z",
}


def read_csv_candles(
    path: Path, timeframe: Timeframe, anchor_ms: int | None = None
) -> Candles:
    """Every row of a candle CSV, in file order, after checking each one.

    Raises InputError naming the line of the first bad row.
    """
    names = match_columns(str(path), _header(path))
    types = {name: _TYPES[key] for key, name in names.items()}
    try:
        table = pa_csv.read_csv(path, convert_options=_convert_options(types))
    except pa.ArrowInvalid as exc:
        finding = _locate_failure(path, names, timeframe, anchor_ms)
        if finding is None:
            raise InputError(f"{path}: cannot read it as CSV ({exc})") from None
        raise _at_line(path, finding) from None
    candles, empty = table_to_candles(table, names)
    finding = earliest(empty, first_invalid(candles, timeframe, anchor_ms))
    if finding is not None:
        raise _at_line(path, finding)
    return candles


def _convert_options(types: dict[str, pa.DataType]) -> pa_csv.ConvertOptions:
    # Only an empty field is missing: "nan" or "NA" are refused as not numbers.
    return pa_csv.ConvertOptions(
        column_types=types, null_values=[""], strings_can_be_null=True
    )


def _header(path: Path) -> list[str]:
    with _open_text(path) as lines:
        # A bounded read: a file that is not text may have no line breaks at all.
        while line := lines.readline(_MAX_LINE_CHARS):
            if line != "\n":
                return next(csv.reader([line]))
    raise InputError(f"{path} is empty; it needs a header line and candles")


def _open_text(path: Path) -> TextIO:
    """The file as text with any line ending (LF, CRLF or CR) read as `\\n`."""
    return path.open(encoding="utf-8-sig", errors="replace", newline=None)


def _data_line_numbers(path: Path) -> Iterator[int]:
    """Yield the line number of each non-blank line after the header."""
    with _open_text(path) as lines:
        numbers = (n for n, line in enumerate(lines, 1) if line != "\n")
        next(numbers, None)
        yield from numbers


def _at_line(path: Path, finding: Finding) -> InputError:
    numbers = _data_line_numbers(path)
    line = next(itertools.islice(numbers, finding.index, None), None)
    where = f"line {line}" if line else f"row {finding.index + 1}"
    return InputError(f"{path}, {where}: {finding.reason}; nothing was imported")


def _locate_failure(
    path: Path, names: dict[str, str], timeframe: Timeframe, anchor_ms: int | None
) -> Finding | None:
    """Find the first row pyarrow could not read, or an earlier invalid one."""
    try:
        strings, malformed = _read_strings(path, list(names.values()))
    except pa.ArrowInvalid:
        return None
    if malformed is not None:
        strings = strings.slice(0, malformed.index)
    # pyarrow's CSV reader ignores blanks around a number; its cast does not.
    texts = {
        key: pc.utf8_trim_whitespace(strings.column(name).combine_chunks())
        for key, name in names.items()
    }
    unreadable = _first_unparseable(texts)
    good_rows = strings.num_rows if unreadable is None else unreadable.index
    typed = pa.table(
        {
            names[key]: text.slice(0, good_rows).cast(_TYPES[key])
            for key, text in texts.items()
        }
    )
    candles, empty = table_to_candles(typed, names)
    invalid = earliest(empty, first_invalid(candles, timeframe, anchor_ms))
    return earliest(invalid, unreadable, malformed)


def _read_strings(path: Path, names: list[str]) -> tuple[pa.Table, Finding | None]:
    """The file as text columns without malformed rows, and the first of those.

    Read on one thread so that pyarrow numbers the rows: the header is row 1 and
    blank lines are not counted, so data row `index` is row `index + 2`.
    """
    malformed: list[Finding] = []

    def skip(row: pa_csv.InvalidRow) -> Literal["skip"]:
        if not malformed and row.number is not None:
            reason = f"{row.actual_columns} values where the header has {len(names)}"
            malformed.append(Finding(row.number - 2, reason))
        return "skip"

    table = pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(use_threads=False),
        parse_options=pa_csv.ParseOptions(invalid_row_handler=skip),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
            check_utf8=False,
        ),
    )
    return table, (malformed[0] if malformed else None)


def _first_unparseable(texts: dict[str, pa.Array[Any]]) -> Finding | None:
    found = []
    for key, column in texts.items():
        index = _bisect_failure(column, _TYPES[key])
        if index is not None:
            value = str(column[index].as_py())[:40]
            problem = _UNPARSEABLE.get(key, "is not a number")
            found.append(Finding(index, f"{key} {value!r} {problem}"))
    return min(found, key=lambda f: f.index, default=None)


def _bisect_failure(column: pa.Array[Any], target: pa.DataType) -> int | None:
    """The first value that does not convert to `target`, in about 2n work."""
    if _converts(column, target):
        return None
    low, high = 0, len(column)  # the first failure lies in [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        if _converts(column.slice(low, middle - low), target):
            low = middle
        else:
            high = middle
    return low


def _converts(column: pa.Array[Any], target: pa.DataType) -> bool:
    try:
        column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True
