"""The HTML report: self-contained, offline, and no value can break out of its data."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import stat
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from crypto_trader.backtest import html_report
from crypto_trader.backtest.html_report import render_report, write_report
from crypto_trader.market_data.candles import Candles

HOSTILE = "</script><script>alert(1)</script><!-- \"quotes' & \u2028\u2029 </SCRIPT"
ASSETS = Path(html_report.__file__).parent / "assets"
# The only absolute URLs in the page: the licence in the library's header comment,
# the SVG namespace of its logo, and the attribution links TradingView's licence
# asks for. None of them is loaded; the policy would refuse them anyway.
ALLOWED_URLS = {
    "https://www.apache.org/licenses/LICENSE-2.0",
    "http://www.w3.org/2000/svg",
    "https://www.tradingview.com/",
    "https://www.tradingview.com/?utm_medium=lwc-link&utm_campaign=lwc-chart",
}


def report_data(
    candles: Candles, fast: int = 24, slow: int = 96, stop: float = 0.06
) -> dict[str, Any]:
    """A report's data from a plain SMA cross with a stop-loss."""
    close = candles.close
    fast_sma, slow_sma = _sma(close, fast), _sma(close, slow)
    above = np.nan_to_num(fast_sma - slow_sma, nan=0.0) > 0
    trades, equity = _simulate(candles, above, 1 - stop)
    peak = np.maximum.accumulate(equity)
    drawdown = (1 - equity / peak) * 100
    wins = [t for t in trades if t["exit_time"] is not None and t["pnl"] > 0]
    return {
        "title": f"sma_cross(fast={fast}, slow={slow}) \u00b7 coinbase BTC/USD 1h",
        "conventions": [
            "Signals are decided at a candle's close and fill at the next open.",
            "Fees: 0.1% per side on notional; no slippage.",
            "Stops fill intrabar; when a stop and a target both hit, the stop first.",
        ],
        "metrics": [
            {"label": "Total return (%)", "value": (equity[-1] / 10_000 - 1) * 100},
            {
                "label": "Buy & hold return (%)",
                "value": (close[-1] / close[0] - 1) * 100,
            },
            {"label": "Max drawdown (%)", "value": float(drawdown.max())},
            {"label": "Sharpe (annualised)", "value": 0.8731},
            {"label": "Calmar", "value": None},
            {"label": "Win rate (%)", "value": 100 * len(wins) / max(1, len(trades))},
            {"label": "Trades", "value": len(trades)},
            {"label": "Final equity (quote)", "value": float(equity[-1])},
        ],
        "candles": {
            "time": (candles.timestamp_ms // 1000).tolist(),
            "open": candles.open.tolist(),
            "high": candles.high.tolist(),
            "low": candles.low.tolist(),
            "close": close.tolist(),
        },
        "indicators": {
            f"sma_{fast}": _nullable(fast_sma),
            f"sma_{slow}": _nullable(slow_sma),
            "rsi_14": _nullable(_rsi(close, 14)),
        },
        "equity": equity.tolist(),
        "drawdown_pct": drawdown.tolist(),
        "trades": trades,
    }


def _sma(values: np.ndarray, window: int) -> np.ndarray:
    sums = np.cumsum(np.insert(values, 0, 0.0))
    out = np.full(len(values), np.nan)
    out[window - 1 :] = (sums[window:] - sums[:-window]) / window
    return out


def _rsi(close: np.ndarray, window: int) -> np.ndarray:
    change = np.diff(close, prepend=close[0])
    gain = _sma(np.clip(change, 0, None), window)
    loss = _sma(np.clip(-change, 0, None), window)
    return 100 - 100 / (1 + gain / np.where(loss == 0, np.nan, loss))


def _nullable(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in values]


def _simulate(
    candles: Candles, above: np.ndarray, stop_ratio: float
) -> tuple[list[dict[str, Any]], Any]:
    times = (candles.timestamp_ms // 1000).tolist()
    cash, amount, fee = 10_000.0, 0.0, 0.001
    trades: list[dict[str, Any]] = []
    equity = np.empty(len(times))
    for i in range(len(times)):
        if amount and candles.low[i] <= trades[-1]["entry_price"] * stop_ratio:
            cash = _close(
                trades[-1], times[i], trades[-1]["entry_price"] * stop_ratio, fee
            )
            amount = 0.0
            trades[-1]["exit_reason"] = "stop-loss"
        elif i >= 2 and above[i - 1] != above[i - 2]:
            price = float(candles.open[i])
            if above[i - 1] and not amount:
                amount = cash / (price * (1 + fee))
                trades.append(
                    {"entry_time": times[i], "entry_price": price, "amount": amount,
                     "cost": cash, "exit_time": None, "exit_price": None,
                     "pnl": 0.0, "pnl_pct": 0.0, "exit_reason": "open"}
                )  # fmt: skip
                cash = 0.0
            elif not above[i - 1] and amount:
                cash = _close(trades[-1], times[i], price, fee)
                amount = 0.0
        equity[i] = cash + amount * candles.close[i]
    if amount:
        trades[-1]["pnl"] = equity[-1] - trades[-1]["cost"]
        trades[-1]["pnl_pct"] = 100 * trades[-1]["pnl"] / trades[-1]["cost"]
    for trade in trades:
        del trade["cost"]
    return trades, equity


def _close(trade: dict[str, Any], time: int, price: float, fee: float) -> float:
    cash = float(trade["amount"] * price * (1 - fee))
    trade.update(
        exit_time=time,
        exit_price=price,
        pnl=cash - trade["cost"],
        pnl_pct=100 * (cash - trade["cost"]) / trade["cost"],
        exit_reason="signal",
    )
    return cash


def small_candles(count: int = 300) -> Candles:
    """Deterministic hourly candles around 100 quote."""
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, count)))
    open_ = np.concatenate(([100.0], close[:-1]))
    spread = np.abs(rng.normal(0, 0.004, count)) * close
    return Candles(
        timestamp_ms=1_600_000_000_000 + 3_600_000 * np.arange(count, dtype=np.int64),
        open=open_,
        high=np.maximum(open_, close) + spread,
        low=np.minimum(open_, close) - spread,
        close=close,
        volume=np.ones(count),
    )


class PageParser(HTMLParser):
    """Collects script elements (attributes and text) and every attribute seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.attributes: list[tuple[str, str, str | None]] = []
        self.csp: list[str] = []
        self._script: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes.extend((tag, name, value) for name, value in attrs)
        found = dict(attrs)
        if tag == "meta" and found.get("http-equiv") == "Content-Security-Policy":
            self.csp.append(found.get("content") or "")
        if tag == "script":
            self._script, self._text = found, []

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._text)))
            self._script = None


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


def data_block(parser: PageParser) -> Any:
    blocks = [text for attrs, text in parser.scripts if attrs.get("type")]
    assert len(blocks) == 1
    return json.loads(blocks[0])


def csp_directives(parser: PageParser) -> dict[str, list[str]]:
    assert len(parser.csp) == 1
    directives = {}
    for part in parser.csp[0].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return report_data(small_candles(), fast=5, slow=20, stop=0.03)


def hostile_data(data: dict[str, Any]) -> dict[str, Any]:
    hostile = json.loads(json.dumps(data))
    hostile["title"] = HOSTILE
    hostile["conventions"].append(HOSTILE)
    hostile["metrics"].append({"label": HOSTILE, "value": HOSTILE})
    hostile["indicators"][HOSTILE] = hostile["indicators"].pop("rsi_14")
    hostile["trades"][0]["exit_reason"] = HOSTILE
    hostile["trades"][1]["amount"] = HOSTILE
    return hostile


def test_the_builder_makes_a_run_worth_drawing(data: dict[str, Any]) -> None:
    reasons = {trade["exit_reason"] for trade in data["trades"]}

    assert len(data["trades"]) >= 5
    assert reasons == {"signal", "stop-loss", "open"}
    assert len(data["equity"]) == len(data["candles"]["time"])


def test_the_page_carries_the_data_exactly(data: dict[str, Any]) -> None:
    parser = parse(render_report(data))

    assert data_block(parser) == data
    assert len(parser.scripts) == 3


def test_hostile_text_cannot_leave_the_data_block(data: dict[str, Any]) -> None:
    hostile = hostile_data(data)
    page = render_report(hostile)
    parser = parse(page)

    assert [attrs for attrs, _ in parser.scripts] == [
        {"type": "application/json", "id": "report-data"},
        {},
        {},
    ]
    assert data_block(parser) == hostile
    block = parser.scripts[0][1]
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in block
    assert "<script>alert(1)" not in page
    assert "\\u003cscript\\u003ealert(1)" in block


def test_the_title_element_shows_the_title_as_text(data: dict[str, Any]) -> None:
    page = render_report(hostile_data(data))

    title = re.search(r"<title>(.*?)</title>", page, re.DOTALL)
    assert title is not None
    assert "<" not in title[1]
    assert "&lt;/script&gt;" in title[1]


def test_the_policy_forbids_the_network_and_names_each_script(
    data: dict[str, Any],
) -> None:
    parser = parse(render_report(data))
    directives = csp_directives(parser)
    inline = [text for attrs, text in parser.scripts if not attrs]
    hashes = [
        "'sha256-"
        + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        + "'"
        for text in inline
    ]

    assert directives["default-src"] == ["'none'"]
    assert sorted(directives["script-src"]) == sorted(hashes)
    assert directives["style-src"] == ["'unsafe-inline'"]
    assert directives["img-src"] == ["data:"]
    assert not {"connect-src", "font-src", "frame-src", "worker-src"} & set(directives)


def test_the_page_names_no_resource_to_load(data: dict[str, Any]) -> None:
    page = render_report(data)
    parser = parse(page)

    assert not [a for a in parser.attributes if a[1] in {"src", "srcset", "data"}]
    assert not [a for a in parser.attributes if a[0] in {"link", "iframe", "img"}]
    hrefs = [value for tag, name, value in parser.attributes if name == "href"]
    assert hrefs == ["https://www.tradingview.com/"]
    assert set(re.findall(r"https?://[^\s\"'`)<>$]+", page)) <= ALLOWED_URLS
    for call in ("fetch(", "XMLHttpRequest", "WebSocket", "EventSource", "import("):
        assert call not in page
    assert "sendBeacon" not in page
    assert not re.search(r"url\(\s*['\"]?(?!#)", page)


def test_the_page_credits_tradingview(data: dict[str, Any]) -> None:
    page = render_report(data)

    assert (
        "TradingView Lightweight Charts&trade; Copyright (c) 2026 TradingView" in page
    )
    assert '<a href="https://www.tradingview.com/"' in page


def test_the_bundled_scripts_cannot_end_their_elements_early() -> None:
    for name in ("report.js", html_report.LIBRARY_FILE):
        text = (ASSETS / name).read_text("utf-8").lower()
        assert "</script" not in text
        assert "<!--" not in text
    assert "</style" not in (ASSETS / "report.css").read_text("utf-8").lower()
    assert (ASSETS / "report.js").read_text("utf-8").isascii()


def test_the_library_is_vendored_unchanged_with_its_licence() -> None:
    library = (ASSETS / html_report.LIBRARY_FILE).read_bytes()

    assert hashlib.sha256(library).hexdigest() == (
        "e21cc5caa0226ef30bd8549c50b9ef926615f2a4ee6b4e486353477a55f598cf"
    )
    assert b"TradingView Lightweight Charts\xe2\x84\xa2 v5.2.1" in library[:200]
    assert "Apache License" in (ASSETS / "lightweight-charts.LICENSE").read_text()
    assert "TradingView, Inc." in (ASSETS / "lightweight-charts.NOTICE").read_text()
    notice = (Path(__file__).parents[2] / "NOTICE").read_text()
    assert html_report.LIBRARY_FILE in notice
    assert "https://www.tradingview.com/" in notice


def test_non_finite_numbers_and_numpy_values_become_json(data: dict[str, Any]) -> None:
    odd = dict(data)
    odd["equity"] = np.array([1.5, np.nan, np.inf, -np.inf])
    odd["metrics"] = [{"label": "Profit factor", "value": np.float64("inf")}]
    odd["trades"] = [{"amount": np.int64(3), "pnl": float("nan")}]

    block = data_block(parse(render_report(odd)))

    assert block["equity"] == [1.5, None, None, None]
    assert block["metrics"] == [{"label": "Profit factor", "value": None}]
    assert block["trades"] == [{"amount": 3, "pnl": None}]


def test_values_the_page_cannot_show_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="JSON cannot carry"):
        render_report({**data, "title": [object()]})


def test_placeholders_in_the_data_stay_as_they_are(data: dict[str, Any]) -> None:
    tricky = {**data, "title": "{{app}} {{data}}"}

    parser = parse(render_report(tricky))

    assert data_block(parser)["title"] == "{{app}} {{data}}"
    assert len(parser.scripts) == 3


def test_write_report_makes_a_private_file_in_a_private_folder(
    tmp_path: Path, data: dict[str, Any]
) -> None:
    path = tmp_path / "home" / "reports" / "run.html"
    old_umask = os.umask(0)
    try:
        write_report(path, data)
    finally:
        os.umask(old_umask)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert data_block(parse(path.read_text("utf-8"))) == data
    assert [p.name for p in path.parent.iterdir()] == ["run.html"]


def test_write_report_leaves_an_existing_folder_alone(
    tmp_path: Path, data: dict[str, Any]
) -> None:
    tmp_path.chmod(0o755)
    path = tmp_path / "run.html"
    path.write_text("old")
    path.chmod(0o644)

    write_report(path, data)

    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text("utf-8").startswith("<!doctype html>")
