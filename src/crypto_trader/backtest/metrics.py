"""What a backtest achieved: returns, risk, trade statistics, each with its unit.

Definitions (the README states them too):

- Equity is sampled at every candle's close; the starting cash stands before the
  first candle, at its open. Per-candle returns are `equity[i] / equity[i-1] - 1`
  with `equity[-1]` the starting cash, so n candles give n returns.
- Sharpe = mean(returns) / std(returns, ddof=1) * sqrt(periods per year), with no
  risk-free rate. Sortino = mean(returns) / downside deviation * sqrt(periods per
  year), the downside deviation being sqrt(mean(min(return, 0)^2)) over all
  returns. A year is 365 days of the candle's periods: periods per year =
  365 * 86,400,000 / timeframe_ms.
- Drawdown is how far equity is below its running peak (the starting cash
  included), as a positive percentage of that peak. A drawdown lasts from the peak
  until equity is back at that peak, or until the end if it never is.
- CAGR compounds the total return over the time the candles span (first open to
  the last candle's close) in 365-day years. Calmar = CAGR / max drawdown.
- Trade statistics (win rate, profit factor, expectancy, duration) count closed
  trades; the trade count counts entries, a position still open included.
  Profit factor = gross profit / gross loss of closed trades.
- Exposure is the share of candle closes at which a position was held.
- Buy-and-hold buys at the first candle's open and values at the last close,
  without costs.

A ratio with nothing to divide by is None (JSON null), never inf or nan.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from crypto_trader.backtest.model import FloatArray, IntArray, SimResult
from crypto_trader.market_data.candles import Candles
from crypto_trader.market_data.timeframes import DAY_MS, HOUR_MS
from crypto_trader.market_data.timestamps import format_timestamp_ms

YEAR_MS = 365 * DAY_MS

Value = float | int | str | None

# (key, label); "{quote}" becomes the quote currency, e.g. USD.
LABELS: tuple[tuple[str, str], ...] = (
    ("start", "Start [UTC]"),
    ("end", "End [UTC, exclusive]"),
    ("candles", "Candles [#]"),
    ("cash", "Starting cash [{quote}]"),
    ("final_equity", "Final equity [{quote}]"),
    ("total_return_pct", "Total return [%]"),
    ("buy_and_hold_return_pct", "Buy-and-hold return [%]"),
    ("cagr_pct", "CAGR [%/year]"),
    ("max_drawdown_pct", "Max drawdown [%]"),
    ("max_drawdown_duration_days", "Max drawdown duration [days]"),
    ("longest_drawdown_days", "Longest drawdown [days]"),
    ("sharpe", "Sharpe ratio [annualised]"),
    ("sortino", "Sortino ratio [annualised]"),
    ("calmar", "Calmar ratio [CAGR / max drawdown]"),
    ("trades", "Trades [#]"),
    ("win_rate_pct", "Win rate [% of closed trades]"),
    ("profit_factor", "Profit factor [gross profit / gross loss]"),
    ("expectancy", "Expectancy [{quote} per closed trade]"),
    ("exposure_pct", "Exposure [% of candles]"),
    ("avg_trade_duration_hours", "Average trade duration [h]"),
    ("fees_paid", "Fees paid [{quote}]"),
)


@dataclass(frozen=True, slots=True)
class Metrics:
    """The figures of one backtest; see the module docstring for definitions."""

    start: str
    end: str
    candles: int
    cash: float
    final_equity: float
    total_return_pct: float
    buy_and_hold_return_pct: float
    cagr_pct: float | None
    max_drawdown_pct: float
    max_drawdown_duration_days: float
    longest_drawdown_days: float
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    trades: int
    win_rate_pct: float | None
    profit_factor: float | None
    expectancy: float | None
    exposure_pct: float
    avg_trade_duration_hours: float | None
    fees_paid: float

    def to_json(self) -> dict[str, Value]:
        """The figures by key, as `--json` prints them."""
        return asdict(self)

    def labelled(self, quote: str) -> list[tuple[str, Value]]:
        """(label with its unit, value) pairs in display order."""
        values = self.to_json()
        return [(label.format(quote=quote), values[key]) for key, label in LABELS]


@dataclass(frozen=True, slots=True)
class _TradeStats:
    win_rate_pct: float | None
    profit_factor: float | None
    expectancy: float | None
    exposure_pct: float
    avg_trade_duration_hours: float | None


def compute_metrics(
    candles: Candles, result: SimResult, cash: float, timeframe_ms: int
) -> Metrics:
    """Measure `result`, a simulation over `candles` that started with `cash`."""
    count = len(candles)
    if count == 0 or cash <= 0:
        raise ValueError("metrics need at least one candle and positive cash")
    times = equity_times_ms(candles.timestamp_ms, timeframe_ms)
    final = float(result.final_equity)
    total_return_pct = (final / cash - 1.0) * 100.0
    cagr = cagr_pct(cash, final, float(times[-1] - times[0]))
    drawdown = drawdown_pct(result.equity, cash)
    max_drawdown = float(drawdown.max())
    max_spell, longest_spell = drawdown_durations_ms(result.equity, cash, times)
    returns = equity_returns(result.equity, cash)
    periods = periods_per_year(timeframe_ms)
    stats = _trade_stats(result, candles.timestamp_ms)
    return Metrics(
        start=format_timestamp_ms(int(times[0])),
        end=format_timestamp_ms(int(times[-1])),
        candles=count,
        cash=float(cash),
        final_equity=final,
        total_return_pct=total_return_pct,
        buy_and_hold_return_pct=buy_and_hold_pct(candles),
        cagr_pct=cagr,
        max_drawdown_pct=max_drawdown,
        max_drawdown_duration_days=max_spell / DAY_MS,
        longest_drawdown_days=longest_spell / DAY_MS,
        sharpe=sharpe_ratio(returns, periods),
        sortino=sortino_ratio(returns, periods),
        calmar=_ratio(cagr, max_drawdown),
        trades=len(result.trades),
        win_rate_pct=stats.win_rate_pct,
        profit_factor=stats.profit_factor,
        expectancy=stats.expectancy,
        exposure_pct=stats.exposure_pct,
        avg_trade_duration_hours=stats.avg_trade_duration_hours,
        fees_paid=float(result.fees_paid),
    )


def periods_per_year(timeframe_ms: int) -> float:
    """How many candles of `timeframe_ms` fit in a 365-day year."""
    return YEAR_MS / timeframe_ms


def equity_times_ms(timestamp_ms: IntArray, timeframe_ms: int) -> IntArray:
    """When each equity point stands: the first open, then every candle's close."""
    closes = timestamp_ms.astype(np.int64) + timeframe_ms
    return np.concatenate([timestamp_ms[:1].astype(np.int64), closes])


def equity_returns(equity: FloatArray, cash: float) -> FloatArray:
    """Per-candle returns of the equity curve, the first against the cash."""
    before = np.concatenate([[cash], equity[:-1]])
    return np.asarray(equity / before - 1.0, dtype=np.float64)


def drawdown_pct(equity: FloatArray, cash: float) -> FloatArray:
    """Per candle, how far equity is below its running peak, in % of the peak."""
    peak = np.maximum.accumulate(np.concatenate([[cash], equity]))[1:]
    return np.asarray((peak - equity) / peak * 100.0, dtype=np.float64)


def drawdown_durations_ms(
    equity: FloatArray, cash: float, times_ms: IntArray
) -> tuple[float, float]:
    """How long the deepest drawdown lasted, and the longest one, in milliseconds.

    `times_ms` holds the time of each point of [cash, *equity]. A drawdown runs
    from its peak to the first point back at that peak, or to the last point.
    """
    points = np.concatenate([[cash], equity])
    peak = np.maximum.accumulate(points)
    depth = (peak - points) / peak
    below = np.concatenate([[False], depth > 0, [False]]).astype(np.int8)
    edges = np.diff(below)
    first = np.flatnonzero(edges == 1)  # first point below the peak of each spell
    last = np.flatnonzero(edges == -1) - 1  # its last point below
    if len(first) == 0:
        return 0.0, 0.0
    # A spell runs from the peak (the point before `first`) to the first point
    # back at the peak, or to the last point if equity never got back.
    back = np.minimum(last + 1, len(points) - 1)
    spells_ms = times_ms[back] - times_ms[first - 1]
    deepest = int(np.searchsorted(first, int(np.argmax(depth)), "right")) - 1
    return float(spells_ms[deepest]), float(spells_ms.max())


def cagr_pct(cash: float, final_equity: float, span_ms: float) -> float | None:
    """Compound annual growth rate over `span_ms`, in %; None over no time."""
    if span_ms <= 0:
        return None
    if final_equity <= 0:
        return -100.0
    try:
        growth = (final_equity / cash) ** (YEAR_MS / span_ms)
    except OverflowError:
        return None
    return _finite((growth - 1.0) * 100.0)


def sharpe_ratio(returns: FloatArray, periods: float) -> float | None:
    """Annualised mean over standard deviation (ddof 1); None when it is zero."""
    if len(returns) < 2:
        return None
    spread = float(np.std(returns, ddof=1))
    return _ratio(float(np.mean(returns)) * math.sqrt(periods), spread)


def sortino_ratio(returns: FloatArray, periods: float) -> float | None:
    """Annualised mean over downside deviation; None without a losing candle."""
    if len(returns) == 0:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    return _ratio(float(np.mean(returns)) * math.sqrt(periods), downside)


def buy_and_hold_pct(candles: Candles) -> float:
    """Return of buying at the first open and valuing at the last close, in %."""
    return (float(candles.close[-1]) / float(candles.open[0]) - 1.0) * 100.0


def _trade_stats(result: SimResult, timestamp_ms: IntArray) -> _TradeStats:
    trades = result.trades
    count = len(timestamp_ms)
    exits = np.where(trades.exit_index < 0, count, trades.exit_index)
    held = int(np.sum(exits - trades.entry_index))
    closed = trades.exit_index >= 0
    pnl = trades.pnl[closed]
    if len(pnl) == 0:
        return _TradeStats(None, None, None, held / count * 100.0, None)
    durations_ms = (
        timestamp_ms[trades.exit_index[closed]]
        - timestamp_ms[trades.entry_index[closed]]
    )
    return _TradeStats(
        win_rate_pct=float(np.mean(pnl > 0)) * 100.0,
        profit_factor=_ratio(float(pnl[pnl > 0].sum()), -float(pnl[pnl < 0].sum())),
        expectancy=_finite(float(np.mean(pnl))),
        exposure_pct=held / count * 100.0,
        avg_trade_duration_hours=float(np.mean(durations_ms)) / HOUR_MS,
    )


def _ratio(numerator: float | None, denominator: float) -> float | None:
    """numerator / denominator, or None when there is nothing to divide by."""
    if numerator is None or denominator == 0 or not math.isfinite(denominator):
        return None
    return _finite(numerator / denominator)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
