"""Importing CSV: every row checked, the first bad one named by its line, or nothing.

Lines are counted as in an editor: the header is line 1, blank lines count.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto_trader.errors import InputError
from crypto_trader.market_data.candle_import import import_candles, read_candle_file
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.series import SeriesId, series_id
from crypto_trader.market_data.timeframes import Timeframe
from tests.market_data.conftest import (
    BTC_USDT_1H as BTC,
)
from tests.market_data.conftest import (
    START_MS,
    assert_same_candles,
    candle_rows,
    make_candles,
    write_csv,
)

HOUR = 3_600_000
GOOD = [str(START_MS), "10", "12", "9", "11", "5"]


def rows_with(bad_row: int, values: list[str], count: int = 6) -> list[list[str]]:
    """`count` good rows an hour apart, row `bad_row` (0-based) replaced."""
    rows = candle_rows(make_candles(count))
    rows[bad_row] = values
    return rows


def test_a_csv_round_trips_exactly(
    store: CandleStore, series: SeriesId, tmp_path: Path
) -> None:
    candles = make_candles(300)
    path = write_csv(tmp_path / "c.csv", candle_rows(candles))
    result = import_candles(store, path, series)
    assert (result.rows, result.duplicates, result.merge.added) == (300, 0, 300)
    assert_same_candles(store.load(series), candles)


def test_iso_timestamps_with_a_zone_are_read_as_utc(tmp_path: Path) -> None:
    path = tmp_path / "iso.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01T00:00:00Z,10,12,9,11,5\n"
        "2024-01-01T01:00:00+00:00,11,12,9,10,5\n"
        "2024-01-01T04:00:00+02:00,10,12,9,11,5\n"
        "2024-01-01T03:00:00.000Z,10,12,9,11,5\n"
    )
    candles = read_candle_file(path, Timeframe.H1)
    offsets = (candles.timestamp_ms - START_MS) // HOUR
    assert offsets.tolist() == [0, 1, 2, 3]


def test_headers_may_be_reordered_and_capitalised(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        f"Close,Open,High,Low,Volume,Timestamp_MS\r\n11,10,12,9,5,{START_MS}\r\n"
    )
    candles = read_candle_file(path, Timeframe.H1)
    assert (candles.open[0], candles.close[0]) == (10.0, 11.0)


def test_blank_lines_crlf_and_a_byte_order_mark_are_accepted(tmp_path: Path) -> None:
    rows = candle_rows(make_candles(3))
    text = "\ufefftimestamp_ms,open,high,low,close,volume\r\n\r\n"
    text += "\r\n".join(",".join(r) for r in rows) + "\r\n\r\n"
    path = tmp_path / "c.csv"
    path.write_bytes(text.encode())
    assert_same_candles(read_candle_file(path, Timeframe.H1), make_candles(3))


def test_rows_in_any_order_are_sorted(store: CandleStore, tmp_path: Path) -> None:
    candles = make_candles(20)
    rows = candle_rows(candles)[::-1]
    result = import_candles(store, write_csv(tmp_path / "c.csv", rows), BTC)
    assert result.merge.summary.candles == 20
    assert_same_candles(store.load(BTC), candles)


def test_a_repeated_open_time_in_a_file_keeps_the_later_row(
    store: CandleStore, tmp_path: Path
) -> None:
    rows = candle_rows(make_candles(3))
    rows.append([rows[1][0], "10", "20", "5", "15", "1"])
    result = import_candles(store, write_csv(tmp_path / "c.csv", rows), BTC)
    assert (result.rows, result.duplicates) == (4, 1)
    assert store.load(BTC).close.tolist()[1] == 15.0


def test_a_file_replaces_stored_candles_at_the_same_open_times(
    store: CandleStore, tmp_path: Path
) -> None:
    import_candles(
        store, write_csv(tmp_path / "a.csv", candle_rows(make_candles(5))), BTC
    )
    later = make_candles(4, start_ms=START_MS + 3 * HOUR, seed=9)
    result = import_candles(
        store, write_csv(tmp_path / "b.csv", candle_rows(later)), BTC
    )
    assert (result.merge.added, result.merge.replaced) == (2, 2)
    assert store.load(BTC).close[3:].tolist() == later.close.tolist()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["x", "10", "12", "9", "11", "5"], "timestamp_ms 'x' is not a whole number"),
        ([f"{START_MS}.5", "10", "12", "9", "11", "5"], "is not a whole number"),
        ([GOOD[0], "ten", "12", "9", "11", "5"], "open 'ten' is not a number"),
        ([GOOD[0], "10", "12", "9", "11", "1_0"], "volume '1_0' is not a number"),
        ([GOOD[0], "10", "12", "9", "", "5"], "close is empty"),
        ([GOOD[0], "nan", "12", "9", "11", "5"], "open is nan, not a finite number"),
        ([GOOD[0], "10", "inf", "9", "11", "5"], "high is inf, not a finite"),
        ([GOOD[0], "-10", "12", "9", "11", "5"], "open -10.0 is not a positive price"),
        ([GOOD[0], "10", "12", "0", "11", "5"], "low 0.0 is not a positive price"),
        ([GOOD[0], "10", "12", "9", "11", "-1"], "volume -1.0 is negative"),
        ([GOOD[0], "10", "10.5", "9", "11", "5"], "high 10.5 is below close 11.0"),
        ([GOOD[0], "10", "12", "10.5", "11", "5"], "low 10.5 is above open 10.0"),
        ([GOOD[0], "10", "12", "9", "11"], "5 values where the header has 6"),
        ([*GOOD, "7"], "7 values where the header has 6"),
        (
            [str(START_MS + 1800_000), *GOOD[1:]],
            "2024-01-01T00:30:00Z is not on the 1h",
        ),
        ([str(START_MS // 1000), *GOOD[1:]], "looks like seconds, not milliseconds"),
        (["99999999999999999", *GOOD[1:]], "is after the year 9999"),
    ],
)
def test_a_bad_row_is_named_by_its_line_and_nothing_is_stored(
    store: CandleStore, tmp_path: Path, values: list[str], message: str
) -> None:
    path = write_csv(tmp_path / "bad.csv", rows_with(3, values))
    with pytest.raises(InputError) as caught:
        import_candles(store, path, BTC)
    text = str(caught.value)
    assert f"{path}, line 5: " in text
    assert message in text
    assert text.endswith("nothing was imported")
    assert "\n" not in text
    assert not store.exists(BTC)


def test_an_iso_time_without_a_zone_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "naive.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01T00:00:00Z,10,12,9,11,5\n"
        "2024-01-01 01:00:00,10,12,9,11,5\n"
    )
    with pytest.raises(InputError, match=r"line 3: timestamp '2024-01-01 01:00:00' is"):
        read_candle_file(path, Timeframe.H1)


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    rows = [",".join(r) for r in candle_rows(make_candles(4))]
    rows[2] = f"{START_MS + 2 * HOUR},10,12,9,-11,5"
    lines = ["timestamp_ms,open,high,low,close,volume", "", rows[0], "", "", rows[1]]
    path = tmp_path / "c.csv"
    path.write_text("\n".join([*lines, rows[2], rows[3]]) + "\n")
    with pytest.raises(InputError, match=r", line 7: close -11.0 is not a positive"):
        read_candle_file(path, Timeframe.H1)


@pytest.mark.parametrize(
    ("early", "late", "line"),
    [
        (["x", *GOOD[1:]], [GOOD[0], "-1", *GOOD[2:]], 3),
        ([GOOD[0], "-1", *GOOD[2:]], ["x", *GOOD[1:]], 3),
        ([GOOD[0], "-1", *GOOD[2:]], [*GOOD, "extra"], 3),
        ([*GOOD, "extra"], [GOOD[0], "-1", *GOOD[2:]], 3),
        ([GOOD[0], "10", "", *GOOD[3:]], [GOOD[0], "x", *GOOD[2:]], 3),
    ],
)
def test_the_first_bad_row_wins_whatever_kinds_of_fault_follow(
    tmp_path: Path, early: list[str], late: list[str], line: int
) -> None:
    rows = candle_rows(make_candles(5))
    rows[1], rows[3] = early, late
    path = write_csv(tmp_path / "c.csv", rows)
    with pytest.raises(InputError, match=f", line {line}: "):
        read_candle_file(path, Timeframe.H1)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("time,open,high,low,close,volume", "the columns must be timestamp_ms"),
        ("timestamp_ms,timestamp,open,high,low,close", "the columns must be"),
        ("timestamp_ms,open,high,low,close", "found timestamp_ms, open, high, low"),
        ("timestamp_ms,open,high,low,close,volume,trades", "the columns must be"),
    ],
)
def test_a_wrong_header_says_what_columns_are_expected(
    tmp_path: Path, header: str, message: str
) -> None:
    path = write_csv(tmp_path / "c.csv", [GOOD], header=header)
    with pytest.raises(InputError, match=message):
        read_candle_file(path, Timeframe.H1)


def test_empty_files_and_missing_paths_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="is empty"):
        read_candle_file(empty, Timeframe.H1)
    header_only = write_csv(tmp_path / "header.csv", [])
    with pytest.raises(InputError, match="holds no candles"):
        read_candle_file(header_only, Timeframe.H1)
    with pytest.raises(InputError, match="is not a file"):
        read_candle_file(tmp_path / "nope.csv", Timeframe.H1)
    with pytest.raises(InputError, match="is not a file"):
        read_candle_file(tmp_path, Timeframe.H1)


def test_a_bad_file_leaves_a_stored_series_untouched(
    store: CandleStore, tmp_path: Path
) -> None:
    import_candles(
        store, write_csv(tmp_path / "a.csv", candle_rows(make_candles(5))), BTC
    )
    before = store.path(BTC).read_bytes()
    later = candle_rows(make_candles(5, start_ms=START_MS + 5 * HOUR))
    later[4][2] = "1"  # high below open on line 6
    with pytest.raises(InputError, match=r"line 6: high 1\.0 is below open"):
        import_candles(store, write_csv(tmp_path / "b.csv", later), BTC)
    assert store.path(BTC).read_bytes() == before


FAULTS = {
    "unparseable": lambda row: [row[0], "abc", *row[2:]],
    "negative": lambda row: [row[0], row[1], row[2], row[3], row[4], "-2"],
    "inverted": lambda row: [row[0], row[1], row[3], row[2], row[4], row[5]],
    "misaligned": lambda row: [str(int(row[0]) + 60_000), *row[1:]],
    "short": lambda row: row[:5],
    "empty": lambda row: [row[0], "", *row[2:]],
}


@settings(derandomize=True, max_examples=40, deadline=None)
@given(
    count=st.integers(1, 60),
    data=st.data(),
    fault=st.sampled_from(sorted(FAULTS)),
)
def test_the_reported_line_is_the_bad_rows_line(
    tmp_path_factory: pytest.TempPathFactory,
    count: int,
    data: st.DataObject,
    fault: str,
) -> None:
    rows = [",".join(r) for r in candle_rows(make_candles(count))]
    bad = data.draw(st.integers(0, count - 1), label="bad row")
    rows[bad] = ",".join(FAULTS[fault](rows[bad].split(",")))
    blanks = data.draw(st.lists(st.booleans(), min_size=count, max_size=count))
    lines = ["timestamp_ms,open,high,low,close,volume"]
    for row, blank_before in zip(rows, blanks, strict=True):
        lines += [""] * blank_before + [row]
    expected = lines.index(rows[bad], 1) + 1
    path = tmp_path_factory.mktemp("prop") / "c.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=f", line {expected}: "):
        read_candle_file(path, Timeframe.H1)


def test_weekly_imports_follow_the_stored_phase(
    store: CandleStore, tmp_path: Path
) -> None:
    weekly = series_id("kraken", "XBT/EUR", "1w")
    week = 7 * 24 * HOUR
    thursday = START_MS + 3 * 24 * HOUR
    first = candle_rows(make_candles(3, start_ms=thursday, step_ms=week))
    import_candles(store, write_csv(tmp_path / "a.csv", first), weekly)
    monday = candle_rows(make_candles(2, start_ms=START_MS + 4 * week, step_ms=week))
    with pytest.raises(InputError, match=r"line 2: .* not on the 1w grid"):
        import_candles(store, write_csv(tmp_path / "b.csv", monday), weekly)
    assert store.summary(weekly).candles == 3


def test_any_symbol_can_be_imported_without_a_network(
    store: CandleStore, tmp_path: Path
) -> None:
    odd = series_id("bitstamp", "ZZZ9/QQQ1", "1d")
    rows = candle_rows(make_candles(2, step_ms=24 * HOUR))
    result = import_candles(store, write_csv(tmp_path / "c.csv", rows), odd)
    assert result.merge.summary.candles == 2
    assert np.all(store.load(odd).volume >= 0)


def test_blanks_around_numbers_are_accepted_before_a_bad_row(tmp_path: Path) -> None:
    rows = candle_rows(make_candles(4))
    rows[0][1] = f" {rows[0][1]} "
    rows[2][3] = "low"
    path = write_csv(tmp_path / "c.csv", rows)
    with pytest.raises(InputError, match=r"line 4: low 'low' is not a number"):
        read_candle_file(path, Timeframe.H1)
    rows[2] = candle_rows(make_candles(4))[2]
    assert len(read_candle_file(write_csv(path, rows), Timeframe.H1)) == 4
