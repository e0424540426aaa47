"""Candles per second and requests made when downloading 100,000 candles.

Two runs: one symbol, then ten symbols at once, each with 100,000 one-minute
candles, through the real download loop, rate limiter, thread pool and candle
store. The source is an in-process exchange that makes up its candles and can
wait a fixed time per request (default none), so the figures measure the loop
and the store; a "fetch only" line walks the same pages without storing them.

    python -m bench.download_speed [--candles N] [--symbols 1 10] [--page P]
                                   [--latency-ms L] [--interval-ms I] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from crypto_trader.market_data.candle_store import CandleStore
from crypto_trader.market_data.download import OhlcvSource
from crypto_trader.market_data.download_pool import DownloadJob, download_all
from crypto_trader.market_data.ohlcv_rows import rows_to_candles
from crypto_trader.market_data.series import SeriesId, series_id
from crypto_trader.market_data.timeframes import Timeframe

START_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
TIMEFRAME = Timeframe.M1
BASES = ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "DOT", "LTC", "LINK", "AVAX")


class SyntheticExchange:
    """An OhlcvSource whose candles are a function of time, served from memory."""

    def __init__(
        self, candles: int, page: int, latency_s: float, interval_ms: float
    ) -> None:
        self.exchange_id = "binance"
        self.page = page
        self.latency_s = latency_s
        self.interval_ms = interval_ms
        self.end_ms = START_MS + candles * TIMEFRAME.ms

    def max_page(self, timeframe: Timeframe) -> int:
        return self.page

    def request_interval_ms(self) -> float:
        return self.interval_ms

    def now_ms(self) -> int:
        return self.end_ms  # every candle has closed

    def close(self) -> None:
        pass

    def fetch_ohlcv(
        self, symbol: str, timeframe: Timeframe, since_ms: int, limit: int
    ) -> list[list[float]]:
        if self.latency_s:
            time.sleep(self.latency_s)
        first = max(since_ms, START_MS)
        times = np.arange(
            first, min(first + limit * timeframe.ms, self.end_ms), timeframe.ms
        )
        close = 30_000.0 + 100.0 * np.sin(times / 3.6e6 + len(symbol))
        table = np.column_stack(
            [times, close - 1, close + 5, close - 5, close, np.full(len(times), 2.5)]
        )
        rows: list[list[float]] = table.tolist()
        return rows


def make_source(options: argparse.Namespace) -> OhlcvSource:
    """The exchange to download from: the one place to point the bench elsewhere."""
    if options.source == "standin":
        return standin_source(options)
    return SyntheticExchange(
        options.candles, options.page, options.latency_ms / 1000, options.interval_ms
    )


_STANDIN: dict[str, object] = {}


def standin_source(options: argparse.Namespace) -> OhlcvSource:
    """Real ccxt, through the door, over TLS to the Binance stand-in on 127.0.0.1.

    ccxt's own rate limiter is off and the loop's spacing is zero, so the figure is
    the speed of our loop, ccxt's parsing, TLS and the store; the exchange's real rate
    limit is a separate floor, printed beside it.
    """
    from datetime import UTC, datetime

    from crypto_trader.exchanges.door import DoorSettings, ExchangeDoor
    from crypto_trader.exchanges.ohlcv_source import ExchangeOhlcvSource

    _, authorities = _started_standin(options)
    door = ExchangeDoor("binance", DoorSettings(extra_ca_file=authorities.ca_cert_path))
    door.client.enableRateLimit = False
    end_s = (START_MS + options.candles * TIMEFRAME.ms) / 1000
    source = ExchangeOhlcvSource(door, clock=lambda: datetime.fromtimestamp(end_s, UTC))
    source.request_interval_ms = lambda: 0.0  # type: ignore[method-assign]
    return source


def _started_standin(options: argparse.Namespace) -> tuple[object, object]:
    if "standin" in _STANDIN:
        return _STANDIN["standin"], _STANDIN["authorities"]
    from decimal import Decimal

    from tests.support.exchange_standins.binance import BinanceStandin
    from tests.support.exchange_standins.book import MarketSpec, synthetic_candles
    from tests.support.exchange_standins.redirect import HostRedirect
    from tests.support.exchange_standins.tls import TestAuthorities

    authorities = TestAuthorities(Path(tempfile.mkdtemp()))
    standin = BinanceStandin(authorities.server)
    standin.start()
    for number, base in enumerate(BASES[: max(options.symbols)]):
        standin.add_market(
            MarketSpec(
                base,
                "USDT",
                Decimal("0.01"),
                Decimal("0.001"),
                Decimal("0.001"),
                Decimal("100000"),
                Decimal("5"),
                Decimal("100"),
            )
        )
        candles = synthetic_candles(START_MS, options.candles, "1m", seed=number)
        standin.add_candles(f"{base}/USDT", "1m", candles)
    HostRedirect(standin.routes).install()
    _STANDIN.update(standin=standin, authorities=authorities)
    return standin, authorities


def markets(symbols: int) -> list[SeriesId]:
    return [series_id("binance", f"{base}/USDT", TIMEFRAME) for base in BASES[:symbols]]


def download_run(
    source: OhlcvSource, series: list[SeriesId], work: Path
) -> dict[str, float]:
    """Download every series into a fresh store; seconds and requests."""
    store = CandleStore(Path(tempfile.mkdtemp(dir=work)))
    jobs = [DownloadJob(one, source, START_MS) for one in series]
    started = time.perf_counter()
    outcomes = download_all(store, jobs, time.monotonic, time.sleep)
    seconds = time.perf_counter() - started
    failed = [o for o in outcomes if o.error is not None]
    if failed:
        raise SystemExit(f"{failed[0].series}: {failed[0].error}")
    stored = sum(store.summary(one).candles for one in series)
    requests = sum(o.result.requests for o in outcomes if o.result is not None)
    return {"seconds": seconds, "requests": requests, "stored": stored}


def fetch_only_run(source: OhlcvSource, series: list[SeriesId]) -> dict[str, float]:
    """The same pages fetched and parsed in one thread, stored nowhere."""
    started = time.perf_counter()
    requests = 0
    for one in series:
        cursor = START_MS
        while cursor < source.now_ms():
            page = source.max_page(TIMEFRAME)
            rows = source.fetch_ohlcv(str(one.symbol), TIMEFRAME, cursor, page)
            candles = rows_to_candles(rows, str(one))
            requests += 1
            cursor = int(candles.timestamp_ms[-1]) + TIMEFRAME.ms
    return {"seconds": time.perf_counter() - started, "requests": requests}


def measure(options: argparse.Namespace) -> list[dict[str, object]]:
    """One row per run: candles, requests made and the fewest possible, speed."""
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as work:
        for count in options.symbols:
            series = markets(count)
            runs = {
                "download": download_run(make_source(options), series, Path(work)),
                "fetch only": fetch_only_run(make_source(options), series),
            }
            total = options.candles * count
            fewest = count * math.ceil(options.candles / options.page)
            for label, figures in runs.items():
                seconds = float(figures["seconds"])
                rows.append(
                    {
                        "measurement": f"{label}, {count} symbol{'s' * (count > 1)}",
                        "candles": total,
                        "requests": int(figures["requests"]),
                        "min_requests": fewest,
                        "seconds": round(seconds, 3),
                        "candles_per_second": round(total / seconds),
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=100_000, help="per symbol")
    parser.add_argument("--symbols", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--page", type=int, default=1000, help="candles per request")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="per request")
    parser.add_argument("--interval-ms", type=float, default=0.0, help="rate limit")
    parser.add_argument(
        "--source",
        choices=["standin", "synthetic"],
        default="standin",
        help="the Binance stand-in over TLS (real ccxt), or an in-process fake",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    options = parser.parse_args()
    if not 1 <= max(options.symbols) <= len(BASES):
        parser.error(f"--symbols: 1 to {len(BASES)}")
    rows = measure(options)
    if options.json:
        settings = {k: v for k, v in vars(options).items() if k != "json"}
        print(json.dumps({"settings": settings, "rows": rows}, indent=2))
        return
    print(
        f"{options.candles:,} one-minute candles per symbol, {options.page} per "
        f"request, {options.latency_ms:g} ms latency, {options.interval_ms:g} ms "
        "between requests"
    )
    print(
        f"{'measurement':<26}{'candles':>11}{'requests':>10}{'minimum':>9}"
        f"{'seconds':>9}{'candles/s':>12}"
    )
    for row in rows:
        print(
            f"{row['measurement']:<26}{row['candles']:>11,}{row['requests']:>10,}"
            f"{row['min_requests']:>9,}{row['seconds']:>9.3f}"
            f"{row['candles_per_second']:>12,}"
        )


if __name__ == "__main__":
    main()
