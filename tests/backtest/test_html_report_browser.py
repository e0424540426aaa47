"""The report in a real browser: headless Chromium draws it offline, without errors.

Chromium is Debian's (scripts/install-test-deps.sh installs it). The flags keep it
from opening any connection beyond the machine, and the page's own policy forbids
every network access anyway.
"""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from crypto_trader.backtest import html_report
from crypto_trader.backtest.html_report import write_report
from crypto_trader.market_data import sample_series
from tests.backtest.test_html_report import (
    HOSTILE,
    hostile_data,
    report_data,
    small_candles,
)
from tests.support.secret_service import require_or_skip

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
OFFLINE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
WINDOW = (1400, 2000)
# Scripts that would run if a value escaped into markup; each would leave a mark.
INJECTED = (
    HOSTILE
    + '<img src=x onerror="document.documentElement.dataset.pwned=1">'
    + "<script>document.documentElement.dataset.pwned=1</script>"
)


@dataclass
class PageDump:
    """What a page looked like after its scripts ran."""

    root: dict[str, str | None] = field(default_factory=dict)
    texts: dict[str, list[str]] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)


class DumpParser(HTMLParser):
    """Reads the <html> attributes, the text of some elements and tag counts."""

    WATCHED = ("h1", "dt", "title", "li")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.dump = PageDump(texts={tag: [] for tag in self.WATCHED})
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.dump.tags[tag] = self.dump.tags.get(tag, 0) + 1
        if tag == "html":
            self.dump.root = dict(attrs)
        if tag in self.WATCHED:
            self._open = tag
            self.dump.texts[tag].append("")

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.dump.texts[self._open][-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None


@dataclass
class Opened:
    dump: PageDump
    console: list[str]


def open_in_chromium(page: Path, screenshot: Path | None = None) -> Opened:
    """Load `page` in a fresh headless Chromium; the DOM afterwards and the console."""
    if not CHROMIUM.exists():
        require_or_skip(
            f"{CHROMIUM} is missing: run scripts/install-test-deps.sh as root "
            "(it installs Debian's chromium)"
        )
    args = [
        str(CHROMIUM),
        *OFFLINE_FLAGS,
        f"--user-data-dir={page.parent / 'chromium-profile'}",
        "--enable-logging=stderr",
        "--v=0",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--hide-scrollbars",
        # Lets the charts' animation frames run before the DOM and picture are taken.
        "--virtual-time-budget=1000",
        "--dump-dom",
    ]
    if screenshot is not None:
        args.append(f"--screenshot={screenshot}")
    done = subprocess.run(
        [*args, page.as_uri()], capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    parser = DumpParser()
    parser.feed(done.stdout)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return Opened(parser.dump, console)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def write(tmp_path: Path, data: dict[str, Any], name: str = "report.html") -> Path:
    path = tmp_path / "reports" / name
    write_report(path, data)
    return path


def test_twenty_thousand_candles_draw_without_errors(tmp_path: Path) -> None:
    data = report_data(sample_series())
    trades = data["trades"]
    markers = len(trades) + sum(t["exit_time"] is not None for t in trades)
    screenshot = tmp_path / "report.png"

    opened = open_in_chromium(write(tmp_path, data), screenshot)

    root = opened.dump.root
    assert opened.console == []
    assert root.get("data-rendered") == "ok"
    assert "data-errors" not in root
    assert root["data-candles"] == "20111"
    assert root["data-markers"] == str(markers)
    assert root["data-panes"] == "4"  # price, indicators, equity, drawdown
    assert root["data-trade-rows"] == str(min(len(trades), 500))
    assert int(root["data-draw-ms"] or "") < 10_000
    assert opened.dump.tags.get("canvas", 0) >= 8
    assert opened.dump.texts["h1"] == [data["title"]]
    assert opened.dump.texts["dt"] == [m["label"] for m in data["metrics"]]
    assert png_size(screenshot) == WINDOW
    assert screenshot.stat().st_size > 100_000  # a blank page is a few kB


def test_hostile_text_shows_as_text(tmp_path: Path) -> None:
    data = hostile_data(report_data(small_candles(), fast=5, slow=20, stop=0.03))
    data["title"] = INJECTED
    data["conventions"].append(INJECTED)
    data["trades"][2]["exit_reason"] = "constructor"  # a name every object has
    data["indicators"]["__proto__"] = data["indicators"]["sma_5"]

    opened = open_in_chromium(write(tmp_path, data))

    root = opened.dump.root
    assert opened.console == []
    assert root.get("data-rendered") == "ok"
    assert "data-errors" not in root
    assert "data-pwned" not in root
    assert opened.dump.texts["h1"] == [INJECTED]
    assert opened.dump.texts["title"] == [INJECTED]
    assert opened.dump.texts["li"][-1] == INJECTED
    assert opened.dump.tags.get("img", 0) == 0
    assert opened.dump.tags["script"] == 3


def with_app_script(
    monkeypatch: pytest.MonkeyPatch, change: Callable[[str], str]
) -> None:
    real = html_report._asset

    def asset(name: str) -> str:
        text = real(name)
        return change(text) if name == "report.js" else text

    monkeypatch.setattr(html_report, "_asset", asset)


def test_the_browser_refuses_a_connection_the_page_tries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Loopback only: even a broken policy would not reach beyond the machine.
    with_app_script(
        monkeypatch, lambda js: js + "\nfetch('http://127.0.0.1:9/').catch(() => {});\n"
    )
    page = write(tmp_path, report_data(small_candles(), fast=5, slow=20))

    opened = open_in_chromium(page)

    assert "connect-src" in (opened.dump.root.get("data-errors") or "")
    assert any("Refused to connect" in line for line in opened.console)


def test_a_script_the_policy_does_not_name_never_runs(tmp_path: Path) -> None:
    page = write(tmp_path, report_data(small_candles(), fast=5, slow=20))
    text = page.read_text("utf-8")
    tampered = text.replace("'use strict';", "'use strict'; ", 1)
    assert tampered != text
    page.write_text(tampered, "utf-8")

    opened = open_in_chromium(page)

    assert "data-rendered" not in opened.dump.root
    assert any("Executing inline script violates" in line for line in opened.console)
