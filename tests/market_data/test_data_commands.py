"""`crypto-trader data`: import, list, gaps and remove, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crypto_trader.home import Home
from tests.market_data.conftest import candle_rows, make_candles, write_csv
from tests.support.cli import CliRunner

SERIES = ["--exchange", "binance", "--symbol", "BTC/USDT", "--timeframe", "1h"]


@pytest.fixture
def holed_csv(tmp_path: Path) -> Path:
    """Ten hourly candles from 2024-01-01T00:00Z with 03:00-05:00 and 08:00 missing."""
    rows = candle_rows(make_candles(10))
    kept = [row for i, row in enumerate(rows) if i not in {3, 4, 5, 8}]
    return write_csv(tmp_path / "holed.csv", kept)


def test_import_then_list_as_json(data_cli: CliRunner, holed_csv: Path) -> None:
    imported = data_cli("data", "import", str(holed_csv), *SERIES)
    assert imported.code == 0, imported.err
    assert "imported 6 candles" in imported.out
    assert "6 new, 0 replaced" in imported.out
    listed = data_cli("data", "list", "--json")
    assert listed.code == 0, listed.err
    assert json.loads(listed.out) == [
        {
            "exchange": "binance",
            "symbol": "BTC/USDT",
            "timeframe": "1h",
            "first": "2024-01-01T00:00:00Z",
            "last": "2024-01-01T09:00:00Z",
            "candles": 6,
            "gaps": [
                {
                    "start": "2024-01-01T03:00:00Z",
                    "end": "2024-01-01T05:00:00Z",
                    "missing": 3,
                },
                {
                    "start": "2024-01-01T08:00:00Z",
                    "end": "2024-01-01T08:00:00Z",
                    "missing": 1,
                },
            ],
        }
    ]


def test_list_without_series(data_cli: CliRunner) -> None:
    assert json.loads(data_cli("data", "list", "--json").out) == []
    shown = data_cli("data", "list")
    assert shown.code == 0
    assert "no candles stored yet" in shown.out


def test_list_as_text_shows_one_line_per_series(
    data_cli: CliRunner, holed_csv: Path, tmp_path: Path
) -> None:
    data_cli("data", "import", str(holed_csv), *SERIES)
    whole = write_csv(tmp_path / "w.csv", candle_rows(make_candles(3)))
    data_cli(
        "data",
        "import",
        str(whole),
        "--exchange",
        "kraken",
        "--symbol",
        "ETH/EUR",
        "--timeframe",
        "1h",
    )
    lines = data_cli("data", "list").out.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[:3] == ["binance", "BTC/USDT", "1h"]
    assert "2 gaps, 4 missing" in lines[0]
    assert lines[1].split()[:3] == ["kraken", "ETH/EUR", "1h"]
    assert "no gaps" in lines[1]


def test_gaps_as_json_and_text(data_cli: CliRunner, holed_csv: Path) -> None:
    data_cli("data", "import", str(holed_csv), *SERIES)
    found = data_cli("data", "gaps", *SERIES, "--json")
    assert found.code == 0, found.err
    assert [g["missing"] for g in json.loads(found.out)] == [3, 1]
    text = data_cli("data", "gaps", *SERIES).out
    assert "2024-01-01T03:00:00Z .. 2024-01-01T05:00:00Z  3 missing" in text


def test_remove_deletes_the_series(data_cli: CliRunner, holed_csv: Path) -> None:
    data_cli("data", "import", str(holed_csv), *SERIES)
    removed = data_cli("data", "remove", *SERIES)
    assert removed.code == 0, removed.err
    assert "removed binance BTC/USDT 1h" in removed.out
    assert json.loads(data_cli("data", "list", "--json").out) == []
    again = data_cli("data", "remove", *SERIES)
    assert again.code == 1
    assert again.err.strip() == (
        "error: no candles stored for binance BTC/USDT 1h; "
        "see `crypto-trader data list`"
    )


def test_a_bad_row_exits_2_with_one_line_and_stores_nothing(
    data_cli: CliRunner, tmp_path: Path
) -> None:
    rows = candle_rows(make_candles(4))
    rows[2][4] = str(float(rows[2][2]) * 2)  # close above high, line 4
    path = write_csv(tmp_path / "bad.csv", rows)
    outcome = data_cli("data", "import", str(path), *SERIES)
    assert outcome.code == 2
    assert outcome.err.count("\n") == 1
    assert f"{path}, line 4: high" in outcome.err
    assert "Traceback" not in outcome.err
    assert json.loads(data_cli("data", "list", "--json").out) == []


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--symbol", "../x/y", "expected BASE/QUOTE"),
        ("--symbol", "BTC.USDT", "expected BASE/QUOTE"),
        ("--exchange", "../../etc", "unknown exchange"),
        ("--timeframe", "1M", "calendar months"),
        ("--timeframe", "../1h", "unknown timeframe"),
    ],
)
def test_path_like_or_unknown_names_are_refused(
    data_cli: CliRunner,
    holed_csv: Path,
    home: Home,
    option: str,
    value: str,
    message: str,
) -> None:
    args = list(SERIES)
    args[args.index(option) + 1] = value
    for command in (["import", str(holed_csv)], ["gaps"], ["remove"]):
        outcome = data_cli("data", *command, *args)
        assert outcome.code == 2, (command, outcome.err)
        assert message in outcome.err
    assert not home.candles.exists()


def test_a_missing_file_is_a_usage_error(data_cli: CliRunner, tmp_path: Path) -> None:
    outcome = data_cli("data", "import", str(tmp_path / "nope.csv"), *SERIES)
    assert outcome.code == 2
    assert "is not a file" in outcome.err


def test_data_commands_never_open_the_vault(
    data_cli: CliRunner, holed_csv: Path, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRYPTO_TRADER_KEY_PASSPHRASE")
    assert data_cli("data", "import", str(holed_csv), *SERIES).code == 0
    assert data_cli("data", "list", "--json").code == 0
    assert data_cli("data", "gaps", *SERIES).code == 0
    assert data_cli("data", "remove", *SERIES).code == 0
    assert not home.database.exists()
    assert not home.master_key_file.exists()


def test_importing_twice_replaces_and_adds_nothing(
    data_cli: CliRunner, holed_csv: Path
) -> None:
    data_cli("data", "import", str(holed_csv), *SERIES)
    again = data_cli("data", "import", str(holed_csv), *SERIES)
    assert "0 new, 6 replaced" in again.out
