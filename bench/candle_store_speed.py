"""Candles per second for `data import` of a 1,000,000-candle CSV and for loading it.

Each figure stands beside a bare pyarrow read of the same data in the same run, so
the ratio is the store's own overhead (validation, sorting, the atomic write, the
schema and order checks), whatever the machine.

    python -m bench.candle_store_speed [--candles N] [--repeat R] [--no-cli] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from crypto_trader.market_data.candle_import import import_candles
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.series import series_id

SERIES = series_id("binance", "BTC/USDT", "1m")
START_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
MINUTE_MS = 60_000
CSV_TYPES = {"timestamp_ms": pa.int64()} | {
    name: pa.float64() for name in ("open", "high", "low", "close", "volume")
}
# The command line with `data` registered, whether or not cli/main.py does it yet.
CLI = (
    "import sys\n"
    "from typer.models import TyperInfo\n"
    "from crypto_trader.cli import data_commands, main\n"
    "if 'data' not in {g.name for g in main.app.registered_groups}:\n"
    "    main.app.registered_groups.append(TyperInfo(data_commands.app, name='data'))\n"
    "sys.exit(main.main(sys.argv[1:]))\n"
)


def write_sample_csv(path: Path, count: int) -> None:
    """`count` one-minute candles of a seeded random walk, as the import reads them."""
    rng = np.random.default_rng(42)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, count)))
    open_ = np.concatenate([[30_000.0], close[:-1]])
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.002, count))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.002, count))
    volume = rng.uniform(0, 20, count)
    table = pa.table(
        {
            "timestamp_ms": START_MS + MINUTE_MS * np.arange(count, dtype=np.int64),
            "open": open_.round(2),
            "high": high.round(2),
            "low": low.round(2),
            "close": close.round(2),
            "volume": volume.round(6),
        }
    )
    pa_csv.write_csv(table, path)


def timed(action: Callable[[], object], repeat: int) -> float:
    """The median wall time of `repeat` runs of `action`, in seconds."""
    return timed_pair(action, lambda: None, repeat)[0]


def timed_pair(
    first: Callable[[], object], second: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Median wall times of `first` and `second`, run in turn so drift hits both."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for action, spent in zip((first, second), times, strict=True):
            started = time.perf_counter()
            action()
            spent.append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def measure(count: int, repeat: int, with_cli: bool, work: Path) -> dict[str, object]:
    csv_path = work / "candles.csv"
    write_sample_csv(csv_path, count)
    store = CandleStore(work / "candles")
    runs = iter(range(10**6))

    def store_import() -> None:
        fresh = CandleStore(work / f"import-{next(runs)}")
        import_candles(fresh, csv_path, SERIES)

    def bare_csv() -> pa.Table:
        options = pa_csv.ConvertOptions(column_types=CSV_TYPES)
        return pa_csv.read_csv(csv_path, convert_options=options)

    def bare_csv_to_parquet() -> None:
        pq.write_table(bare_csv(), work / "bare.parquet", compression="zstd")

    import_candles(store, csv_path, SERIES)
    stored = store.path(SERIES)
    imported, read_csv = timed_pair(store_import, bare_csv, repeat)
    converted = timed(bare_csv_to_parquet, repeat)
    loaded, read_parquet = timed_pair(
        lambda: store.load(SERIES), lambda: pq.read_table(stored), repeat * 3
    )
    figures: dict[str, object] = {
        "candles": count,
        "csv_bytes": csv_path.stat().st_size,
        "parquet_bytes": stored.stat().st_size,
        "import_s": imported,
        "bare_csv_read_s": read_csv,
        "bare_csv_to_parquet_s": converted,
        "load_s": loaded,
        "bare_parquet_read_s": read_parquet,
    }
    if with_cli:
        figures["cli_import_s"] = timed(lambda: _cli_import(work, csv_path), repeat)
    return figures


def _cli_import(work: Path, csv_path: Path) -> None:
    home = tempfile.mkdtemp(dir=work)
    args = ["--home", home, "data", "import", str(csv_path)]
    args += ["--exchange", "binance", "--symbol", "BTC/USDT", "--timeframe", "1m"]
    subprocess.run([sys.executable, "-c", CLI, *args], check=True, capture_output=True)


def report(figures: dict[str, object]) -> list[dict[str, object]]:
    """One row per measurement: seconds, candles per second, ratio to bare pyarrow."""
    count = int(str(figures["candles"]))
    pairs = [
        ("data import (store function)", "import_s", "bare_csv_read_s"),
        ("bare pyarrow CSV read", "bare_csv_read_s", "bare_csv_read_s"),
        (
            "bare pyarrow CSV read + Parquet write",
            "bare_csv_to_parquet_s",
            "bare_csv_read_s",
        ),
        ("data import (CLI process)", "cli_import_s", "bare_csv_read_s"),
        ("load stored series (numpy)", "load_s", "bare_parquet_read_s"),
        ("bare pyarrow Parquet read", "bare_parquet_read_s", "bare_parquet_read_s"),
    ]
    rows = []
    for label, key, baseline in pairs:
        if key not in figures:
            continue
        seconds = float(str(figures[key]))
        base = float(str(figures[baseline]))
        rows.append(
            {
                "measurement": label,
                "seconds": round(seconds, 4),
                "candles_per_second": round(count / seconds),
                "ratio_to_bare_pyarrow": round(seconds / base, 2),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI process")
    parser.add_argument("--json", action="store_true", help="print JSON")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        figures = measure(
            options.candles, options.repeat, not options.no_cli, Path(work)
        )
    rows = report(figures)
    if options.json:
        print(json.dumps({"figures": figures, "rows": rows}, indent=2))
        return
    print(
        f"{figures['candles']:,} candles; CSV {figures['csv_bytes']:,} bytes, "
        f"stored Parquet {figures['parquet_bytes']:,} bytes; median of runs"
    )
    print(f"{'measurement':<40}{'seconds':>9}{'candles/s':>13}{'x bare read':>13}")
    for row in rows:
        print(
            f"{row['measurement']:<40}{row['seconds']:>9.3f}"
            f"{row['candles_per_second']:>13,}{row['ratio_to_bare_pyarrow']:>13.2f}"
        )


if __name__ == "__main__":
    main()
