"""The trading runner's speed: replay candles/s, candle-to-order latency, memory.

Everything runs through the real trading code in throwaway homes (SQLite files on
the disk of `--dir`, synchronous commits, the signed audit log), and each figure
stands beside its anchor from issue 5, section 7, in the same run:

- replay: `session.start` of a paper `--replay` session for one symbol, on the
  bundled Coinbase BTC/USD 1h candles and on `--candles` synthetic one-minute
  candles (the recipe of `bench.backtest_speed`) in the home's candle store; the
  backtest of the same strategy on the same candles beside it, and whether the
  two end on the same equity (1e-9 relative). Anchor: 10,000 candles/s or more.
- latency: from handing a closed candle to `Runner.on_candle` until the broker's
  `send` is called, with a broker that notes the time and fills at once. One
  symbol; 100 symbols whose candles close together (the last symbol's order),
  all of them ordering or only the last. Live books store each order before it
  is sent; paper books store their writes in groups, after each close here (as
  when the feed pauses). No anchor is set.
- memory: a replay runner fed 100,000 synthetic candles one at a time (none held
  in advance): memory traced by tracemalloc after 10,000 and after 100,000, and
  the process's resident memory in a second, untraced run. Anchor: no growth
  with history; the traced memory may rise by at most 64 KiB from 10,000 to
  100,000 candles (a runner that kept 8 bytes a candle, or an order object per
  trade, would rise by several hundred KiB), and the ratio is printed too.

    python -m bench.trade_speed [--candles N] [--repeat R] [--strategy NAME]
                                [--latency-candles N] [--symbols N]
                                [--memory-candles N] [--dir PATH] [--profile]
                                [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.backtest_speed import synthetic_candles
from crypto_trader.backtest.model import EngineConfig
from crypto_trader.backtest.runner import backtest, build_strategy
from crypto_trader.backtest.strategy import Strategy
from crypto_trader.home import Home
from crypto_trader.installation import Installation
from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.candles import Candles
from crypto_trader.market_data.samples import SAMPLE_SERIES, sample_series
from crypto_trader.market_data.series import SeriesId, series_id
from crypto_trader.trading.books import PAPER_GROUP_SECONDS, Books
from crypto_trader.trading.model import Mode, TradeSpec
from crypto_trader.trading.paper import PaperBroker
from crypto_trader.trading.risk import MarketRules, RiskLimits
from crypto_trader.trading.runner import CandleEvent, Runner
from crypto_trader.trading.session import start, status
from crypto_trader.trading.store import TradeOrder, TradeStore
from crypto_trader.vault.secrets import SecretStr

SYNTHETIC_SERIES = series_id("binance", "BTC/USDT", "1m")
MINUTE_MS = 60_000
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
CONFIG = EngineConfig(cash=10_000.0, fee_rate=0.001)
# A throwaway passphrase for the throwaway homes' key files: nothing is kept.
BENCH_PASSPHRASE = "trade bench passphrase, throwaway"  # noqa: S105
MIN_CANDLES_PER_SECOND = 10_000.0
# What the runner may gain from 10,000 to 100,000 candles: SQLite's and the audit
# log's transient objects vary by a few KiB from one moment to the next.
MAX_MEMORY_GROWTH_BYTES = 64 * 1024
EQUITY_TOLERANCE = 1e-9
# sma_cross(2, 3) on closes that alternate low, high acts on every candle.
ZIGZAG_PARAMS = {"fast": "2", "slow": "3"}
LATENCY_WARM_STEPS = 5
PROFILE_LINES = 15


@dataclass(frozen=True, slots=True)
class ReplayRow:
    """A paper replay and the backtest of the same candles."""

    data: str
    candles: int
    replay_seconds: float
    replay_candles_per_second: float
    backtest_seconds: float
    backtest_candles_per_second: float
    replay_trades: int
    backtest_trades: int
    equity_gap_rel: float
    equity_matches: bool


@dataclass(frozen=True, slots=True)
class LatencyRow:
    """Candle handed to the runner until `send`, in microseconds."""

    books: str
    symbols: int
    ordering: str
    samples: int
    median_us: float
    p99_us: float
    max_us: float


# Throwaway homes


def quiet(text: str) -> None:
    """Terminal lines of the runner: not wanted in a benchmark's output."""


@contextlib.contextmanager
def file_key_store() -> Iterator[None]:
    """Use the key file store while benching, never the user's OS keyring."""
    before = os.environ.get("CRYPTO_TRADER_KEY_STORE")
    os.environ["CRYPTO_TRADER_KEY_STORE"] = "file"
    try:
        yield
    finally:
        if before is None:
            del os.environ["CRYPTO_TRADER_KEY_STORE"]
        else:
            os.environ["CRYPTO_TRADER_KEY_STORE"] = before


@contextlib.contextmanager
def throwaway_home(work: Path) -> Iterator[Installation]:
    """A new home under `work`, unlocked (the audit log signs every order)."""
    with tempfile.TemporaryDirectory(dir=work) as folder, file_key_store():
        installation = Installation.open(
            Home(Path(folder) / "home"),
            lambda new: SecretStr(BENCH_PASSPHRASE),
            user_id="bench",
        )
        try:
            installation.custody.unlock()
            yield installation
        finally:
            installation.close()


def replay_spec(series: SeriesId, strategy: Strategy) -> TradeSpec:
    """What `trade --mode paper --replay` on `series` would be given."""
    return TradeSpec(
        strategy=strategy.name,
        params=dict(strategy.values),
        exchange=series.exchange,
        symbols=(str(series.symbol),),
        timeframe=str(series.timeframe),
        mode=Mode.PAPER,
        config=CONFIG,
        replay=True,
    )


# 1. Replay throughput


def replay_seconds(
    candles: Candles, series: SeriesId, strategy: str, work: Path
) -> tuple[float, dict[str, Any]]:
    """Seconds `session.start` takes to replay `candles` in a new home; its status."""
    with throwaway_home(work) as installation:
        CandleStore.for_home(installation.home).merge(series, candles)
        built = build_strategy(strategy, {})
        started = time.perf_counter()
        start(installation, replay_spec(series, built), built, quiet)
        seconds = time.perf_counter() - started
        return seconds, status(installation)


def backtest_seconds(
    candles: Candles, series: SeriesId, strategy: str
) -> tuple[float, int, float]:
    """Seconds for the backtest (signals, simulation, metrics); trades; equity."""
    built = build_strategy(strategy, {})
    started = time.perf_counter()
    result = backtest(candles, series, built, CONFIG).result
    seconds = time.perf_counter() - started
    return seconds, len(result.trades), result.final_equity


def replay_row(
    data: str, candles: Candles, series: SeriesId, options: argparse.Namespace
) -> ReplayRow:
    """Replays and backtests taking turns, warm; the median of each."""
    backtest_seconds(candles, series, options.strategy)  # compiles or loads kernels
    replays: list[float] = []
    backtests: list[float] = []
    for _ in range(options.repeat):
        seconds, report = replay_seconds(candles, series, options.strategy, options.dir)
        replays.append(seconds)
        seconds, trades, equity = backtest_seconds(candles, series, options.strategy)
        backtests.append(seconds)
    replay_s, backtest_s = statistics.median(replays), statistics.median(backtests)
    gap = abs(report["equity"] - equity) / abs(equity)
    return ReplayRow(
        data,
        len(candles),
        replay_s,
        len(candles) / replay_s,
        backtest_s,
        len(candles) / backtest_s,
        int(report["trades"]),
        trades,
        gap,
        report["state"] == "finished" and gap <= EQUITY_TOLERANCE,
    )


def replay_profile(candles: Candles, options: argparse.Namespace) -> list[str]:
    """The top of a cProfile of one synthetic replay, by cumulative time."""
    profile = cProfile.Profile()
    with throwaway_home(options.dir) as installation:
        CandleStore.for_home(installation.home).merge(SYNTHETIC_SERIES, candles)
        built = build_strategy(options.strategy, {})
        spec = replay_spec(SYNTHETIC_SERIES, built)
        profile.runcall(start, installation, spec, built, quiet)
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(
        PROFILE_LINES
    )
    lines = text.getvalue().splitlines()
    first = next(i for i, line in enumerate(lines) if "ncalls" in line)
    return [line for line in lines[first:] if line.strip()]


# 2. Candle close to order request


class RecordingBroker:
    """A broker that notes when each order is sent, then fills it as paper would."""

    def __init__(self, books: Books, timeframe_ms: int) -> None:
        self._paper = PaperBroker(books, timeframe_ms, echo=False)
        self.sent_ns: dict[str, int] = {}
        self.sends = 0

    def send(self, order: TradeOrder, quote: float, time_ms: int, now: bool) -> None:
        """Note the time first: this is where an order would leave the runner."""
        self.sent_ns[order.symbol] = time.perf_counter_ns()
        self.sends += 1
        self._paper.send(order, quote, time_ms, True)

    def on_open(self, symbol: str, time_ms: int, price: float) -> None:
        """Nothing waits for an open: every order filled when it was sent."""

    def market_rules(self, symbol: str) -> MarketRules | None:
        """No market rounding, as on paper."""
        return None

    def reconcile(self) -> None:
        """Nothing to reconcile."""

    def poll(self) -> None:
        """Nothing to follow."""

    def cancel_all(self, note: str) -> None:
        """Nothing stays open."""

    def close(self) -> None:
        """Nothing to release."""


def latency_runner(
    installation: Installation, symbols: list[str], live: bool
) -> tuple[Runner, RecordingBroker]:
    """A runner on a new session, as `session.start` builds one for exchange feeds."""
    strategy = build_strategy("sma_cross", ZIGZAG_PARAMS)
    spec = TradeSpec(
        strategy=strategy.name,
        params=dict(strategy.values),
        exchange="binance",
        symbols=tuple(symbols),
        timeframe="1m",
        mode=Mode.LIVE if live else Mode.PAPER,
        config=CONFIG,
        key_label="bench" if live else None,
    )
    store = TradeStore(installation.db, installation.clock)
    session = store.create_session(spec)
    # Live books commit each order before it is sent; paper ones in groups.
    group = None if live else PAPER_GROUP_SECONDS
    books = Books(store, installation.audit, session, CONFIG, quiet, group)
    broker = RecordingBroker(books, MINUTE_MS)
    streams = {symbol: strategy.stream() for symbol in symbols}
    limits = RiskLimits.from_settings(installation.settings)
    runner = Runner(books, streams, broker, [], limits, MINUTE_MS, quiet)
    return runner, broker


def step_candle(step: int, zigzag: bool) -> tuple[float, float, float, float]:
    """Open, high, low and close of one candle: a zigzag orders, a flat line not."""
    close = (100.0 if step % 2 == 0 else 110.0) if zigzag else 100.0
    open_ = (110.0 if step % 2 == 0 else 100.0) if zigzag and step else close
    return open_, max(open_, close) * 1.001, min(open_, close) * 0.999, close


def latency_samples(
    installation: Installation, symbols: int, all_order: bool, live: bool, steps: int
) -> list[float]:
    """Microseconds from the first symbol's candle to the last symbol's `send`."""
    names = [f"C{number:03d}/USDT" for number in range(symbols)]
    runner, broker = latency_runner(installation, names, live)
    samples: list[float] = []
    for step in range(LATENCY_WARM_STEPS + steps):
        time_ms = START_MS + step * MINUTE_MS
        sends = broker.sends
        started = time.perf_counter_ns()
        for number, symbol in enumerate(names):
            zigzag = all_order or number == symbols - 1
            open_, high, low, close = step_candle(step, zigzag)
            runner.on_candle(symbol, time_ms, open_, high, low, close, 1.0, False)
        ordered = broker.sends - sends
        runner.books.flush()  # as the runner does when the feed pauses
        if step >= LATENCY_WARM_STEPS:
            expected = symbols if all_order else 1
            if ordered != expected:
                raise SystemExit(f"{ordered} orders at step {step}, not {expected}")
            samples.append((broker.sent_ns[names[-1]] - started) / 1000)
    return samples


def latency_rows(options: argparse.Namespace) -> list[LatencyRow]:
    """Live and paper books; one symbol, then many, all or only the last ordering."""
    many, steps = options.symbols, options.latency_many_candles
    cases = [(1, True, options.latency_candles), (many, True, steps)]
    cases.append((many, False, steps))
    rows = []
    for live in (True, False):
        for symbols, all_order, steps in cases:
            with throwaway_home(options.dir) as installation:
                samples = latency_samples(installation, symbols, all_order, live, steps)
            ordering = "every symbol" if all_order else "the last only"
            books = "live: stored, then sent" if live else "paper: stored in groups"
            rows.append(latency_row(books, symbols, ordering, samples))
    return rows


def latency_row(
    books: str, symbols: int, ordering: str, samples: list[float]
) -> LatencyRow:
    """Median, 99th percentile and maximum of the samples."""
    p99 = float(np.percentile(samples, 99))
    return LatencyRow(
        books,
        symbols,
        ordering if symbols > 1 else "-",
        len(samples),
        statistics.median(samples),
        p99,
        max(samples),
    )


# 3. Memory over a long replay


def lazy_feed(
    candles: Candles, symbol: str, at: dict[int, Callable[[int], None]]
) -> Iterator[CandleEvent]:
    """The candles one at a time; `at[n](n)` is called once n were processed."""
    times, opens, highs = candles.timestamp_ms, candles.open, candles.high
    lows, closes, volumes = candles.low, candles.close, candles.volume
    for index in range(len(times)):
        if index in at:
            at[index](index)
        yield (
            symbol,
            int(times[index]),
            float(opens[index]),
            float(highs[index]),
            float(lows[index]),
            float(closes[index]),
            float(volumes[index]),
            False,
        )
    if len(times) in at:
        at[len(times)](len(times))


def memory_run(
    candles: Candles, options: argparse.Namespace, measure: Callable[[], int]
) -> dict[int, int]:
    """Replay through a runner built as `session.start` builds one; bytes noted.

    The grouped writes are committed before each note, so that the figure is what
    the runner keeps, not how far the current group of up to 256 events got.
    """
    noted: dict[int, int] = {}
    checkpoints = {len(candles) // 10, len(candles)}
    with throwaway_home(options.dir) as installation:
        built = build_strategy(options.strategy, {})
        store = TradeStore(installation.db, installation.clock)
        session = store.create_session(replay_spec(SYNTHETIC_SERIES, built))
        books = Books(
            store, installation.audit, session, CONFIG, quiet, PAPER_GROUP_SECONDS
        )

        def note(count: int) -> None:
            books.flush()
            gc.collect()
            noted[count] = measure()

        symbol = str(SYNTHETIC_SERIES.symbol)
        feed = lazy_feed(candles, symbol, dict.fromkeys(checkpoints, note))
        broker = PaperBroker(books, MINUTE_MS, echo=False)
        limits = RiskLimits.from_settings(installation.settings)
        streams = {symbol: built.stream()}
        Runner(books, streams, broker, feed, limits, MINUTE_MS, quiet).run()
    return noted


def resident_bytes() -> int:
    """The process's resident memory now (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def memory_figures(options: argparse.Namespace) -> dict[str, Any]:
    """Traced bytes and resident bytes after a tenth of the candles and after all."""
    candles = synthetic_candles(options.memory_candles, seed=7)
    tracemalloc.start()
    try:
        traced = memory_run(
            candles, options, lambda: tracemalloc.get_traced_memory()[0]
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    resident = memory_run(candles, options, resident_bytes)
    first, last = sorted(traced)
    return {
        "candles": [first, last],
        "traced_bytes": [traced[first], traced[last]],
        "traced_ratio": traced[last] / traced[first],
        "traced_growth_bytes_per_1000_candles": (traced[last] - traced[first])
        * 1000
        / (last - first),
        "traced_peak_bytes": peak,
        "resident_bytes": [resident[first], resident[last]],
        "resident_growth_bytes": resident[last] - resident[first],
        "resident_ratio": resident[last] / resident[first],
    }


# Verdicts and the report


def verdicts(
    replays: list[ReplayRow], memory: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Each anchor, the figure measured for it and whether it is met."""
    result: dict[str, dict[str, Any]] = {}
    for row in replays:
        rate = row.replay_candles_per_second
        result[f"replay candles/s, {row.data}"] = {
            "rule": "at least",
            "target": MIN_CANDLES_PER_SECOND,
            "figure": rate,
            "met": rate >= MIN_CANDLES_PER_SECOND,
        }
        result[f"replay's equity gap to the backtest, {row.data}"] = {
            "rule": "at most",
            "target": EQUITY_TOLERANCE,
            "figure": row.equity_gap_rel,
            "met": row.equity_matches,
        }
    growth = memory["traced_bytes"][1] - memory["traced_bytes"][0]
    first, last = memory["candles"]
    result[f"traced memory growth {first:,} -> {last:,} candles, bytes"] = {
        "rule": "at most",
        "target": MAX_MEMORY_GROWTH_BYTES,
        "figure": growth,
        "met": growth <= MAX_MEMORY_GROWTH_BYTES,
    }
    return result


def print_report(payload: dict[str, Any]) -> None:
    """The three tables, the anchors, and the profile if one was taken."""
    print_replays(payload["replay"], payload["strategy"])
    print_latency(payload["latency"])
    print_memory(payload["memory"])
    print_verdicts(payload["targets"])
    if payload["profile"]:
        print("\ncProfile of one synthetic replay, by cumulative time")
        print("\n".join(payload["profile"]))


def print_replays(rows: list[dict[str, Any]], strategy: str) -> None:
    """Replay beside backtest, per data set."""
    print(f"paper replay of one symbol, {strategy}, median of turns")
    print(
        f"{'data':<32}{'candles':>9}{'replay s':>10}{'candles/s':>11}"
        f"{'backtest s':>12}{'candles/s':>12}{'trades':>11}{'same equity':>13}"
    )
    for row in rows:
        trades = f"{row['replay_trades']}/{row['backtest_trades']}"
        print(
            f"{row['data']:<32}{row['candles']:>9,}{row['replay_seconds']:>10.3f}"
            f"{row['replay_candles_per_second']:>11,.0f}"
            f"{row['backtest_seconds']:>12.4f}"
            f"{row['backtest_candles_per_second']:>12,.0f}{trades:>11}"
            f"{'yes' if row['equity_matches'] else 'NO':>13}"
        )


def print_latency(rows: list[dict[str, Any]]) -> None:
    """Candle to `send`, per books and symbols."""
    print("\ncandle handed to Runner.on_candle -> broker.send of the last symbol, us")
    print(
        f"{'books':<26}{'symbols':>8}  {'ordering':<14}{'samples':>8}"
        f"{'median':>10}{'p99':>10}{'max':>10}"
    )
    for row in rows:
        print(
            f"{row['books']:<26}{row['symbols']:>8}  {row['ordering']:<14}"
            f"{row['samples']:>8}{row['median_us']:>10,.0f}{row['p99_us']:>10,.0f}"
            f"{row['max_us']:>10,.0f}"
        )


def print_memory(memory: dict[str, Any]) -> None:
    """Traced and resident memory at both checkpoints."""
    first, last = memory["candles"]
    kib = 1024
    print(f"\nreplay runner memory, KiB after{first:>13,}{last:>10,}{'ratio':>8}")
    traced, resident = memory["traced_bytes"], memory["resident_bytes"]
    print(
        f"{'traced (tracemalloc)':<33}{traced[0] / kib:>10,.1f}"
        f"{traced[1] / kib:>10,.1f}{memory['traced_ratio']:>8.3f}"
    )
    print(
        f"{'resident (untraced run)':<33}{resident[0] / kib:>10,.0f}"
        f"{resident[1] / kib:>10,.0f}{memory['resident_ratio']:>8.3f}"
    )
    growth = memory["traced_growth_bytes_per_1000_candles"]
    print(f"traced growth: {growth:,.0f} bytes per 1,000 candles")
    print(f"traced peak over the run: {memory['traced_peak_bytes'] / kib:,.0f} KiB")


def print_verdicts(targets: dict[str, dict[str, Any]]) -> None:
    """One line per anchor."""
    print()
    for name, verdict in targets.items():
        target = f"{verdict['rule']} {shown(verdict['target'])}"
        state = "met" if verdict["met"] else "MISSED"
        print(f"{name:<68} {target:>17}  {shown(verdict['figure']):>10}  {state}")


def shown(figure: float) -> str:
    """Whole figures with thousands separators; small fractions in e-notation."""
    if figure and abs(figure) < 1:
        return f"{figure:.1e}"
    return f"{figure:,.0f}"


def parse_options(argv: list[str] | None) -> argparse.Namespace:
    """The command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--candles", type=int, default=100_000, help="synthetic")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--strategy", default="sma_cross")
    parser.add_argument("--latency-candles", type=int, default=1000, help="1 symbol")
    parser.add_argument(
        "--latency-many-candles", type=int, default=20, help="with --symbols"
    )
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--memory-candles", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--profile", action="store_true", help="always profile")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    options = parser.parse_args(argv)
    if options.memory_candles < 10 or options.symbols < 2 or options.repeat < 1:
        parser.error("--memory-candles at least 10, --symbols 2, --repeat 1")
    return options


def main(argv: list[str] | None = None) -> int:
    """Measure; exit 1 if an anchor is missed."""
    options = parse_options(argv)
    synthetic = synthetic_candles(options.candles)
    replays = [
        replay_row(
            "bundled coinbase BTC/USD 1h", sample_series(), SAMPLE_SERIES, options
        ),
        replay_row(
            "synthetic BTC/USDT 1m, seed 42", synthetic, SYNTHETIC_SERIES, options
        ),
    ]
    latency = latency_rows(options)
    memory = memory_figures(options)
    targets = verdicts(replays, memory)
    slow = any(r.replay_candles_per_second < MIN_CANDLES_PER_SECOND for r in replays)
    profile = replay_profile(synthetic, options) if slow or options.profile else []
    payload = {
        "strategy": f"{options.strategy} (defaults)",
        "repeat": options.repeat,
        "dir": str(options.dir),
        "replay": [asdict(row) for row in replays],
        "latency": [asdict(row) for row in latency],
        "memory": memory,
        "targets": targets,
        "profile": profile,
    }
    if options.json:
        print(json.dumps(payload, indent=2))
    else:
        print_report(payload)
    return 0 if all(verdict["met"] for verdict in targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
