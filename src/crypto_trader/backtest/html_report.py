"""The backtest report: one self-contained HTML page that opens offline.

The page carries its own style, its script and TradingView's Lightweight Charts
(Apache-2.0; see NOTICE), and the run's data as a JSON block. Its Content-Security-
Policy allows no network access at all and runs only the two inline scripts whose
hashes it names. The JSON is escaped so that no value can end the element that holds
it, and the page shows text only through textContent, never as markup.

The data is a dict: title, conventions (lines of text), metrics ({label, value}),
candles ({time (epoch seconds), open, high, low, close}), indicators ({name: values,
None for a gap}), equity and drawdown_pct (one value per candle, the drawdown a
positive percentage), and trades ({entry_time, exit_time, entry_price, exit_price,
amount, pnl, pnl_pct, exit_reason}).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import math
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from crypto_trader.secure_fs import ensure_private_dir, write_private_atomic

LIBRARY_FILE = "lightweight-charts.standalone.production.js"

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# Inside a script element, `</script`, `<!--` and `<script` are the only ways out;
# none of them survives once <, > and & are escapes. U+2028 and U+2029 end a line
# in older JavaScript parsers.
_JSON_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def render_report(data: Mapping[str, Any]) -> str:
    """The report page for one backtest run, as HTML text."""
    app = _asset("report.js")
    library = _asset(LIBRARY_FILE)
    parts = {
        "title": html.escape(str(data.get("title") or "Backtest report")),
        "csp": html.escape(content_security_policy(app, library)),
        "style": _asset("report.css"),
        "data": embed_json(data),
        "app": app,
        "library": library,
    }
    # One pass over the template: text put in is never searched for placeholders.
    return _PLACEHOLDER.sub(lambda match: parts[match[1]], _asset("report.html"))


def write_report(path: Path, data: Mapping[str, Any]) -> None:
    """Write the report to `path`, 0600 and atomically.

    A missing folder is created 0700; an existing one keeps its mode, since it may
    be any folder the user named.
    """
    page = render_report(data).encode("utf-8")
    if not path.parent.is_dir():
        ensure_private_dir(path.parent)
    write_private_atomic(path, page)


def embed_json(data: Mapping[str, Any]) -> str:
    """`data` as JSON text that is safe inside a script element.

    NaN and infinities become null (JSON has neither); numpy arrays and scalars
    become lists and numbers.
    """
    text = json.dumps(
        _plain(data), ensure_ascii=False, allow_nan=False, separators=(",", ":")
    )
    for raw, escape in _JSON_ESCAPES:  # on megabytes, far faster than str.translate
        text = text.replace(raw, escape)
    return text


def content_security_policy(*scripts: str) -> str:
    """A policy that forbids any network access and runs only `scripts` inline."""
    hashes = " ".join(f"'{_sha256(script)}'" for script in scripts)
    return (
        "default-src 'none'; "
        f"script-src {hashes}; "
        # Lightweight Charts adds a style element for its attribution logo.
        "style-src 'unsafe-inline'; "
        "img-src data:; "
        "base-uri 'none'; "
        "form-action 'none'"
    )


def _sha256(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _plain(value: Any) -> Any:
    """Plain JSON values: numpy data converted, non-finite floats as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str | int | bool) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _plain(value.tolist())
    raise TypeError(
        f"the report data holds a {type(value).__name__}; JSON cannot carry it"
    )


@functools.cache
def _asset(name: str) -> str:
    return (
        resources.files("crypto_trader.backtest")
        .joinpath("assets", name)
        .read_text("utf-8")
    )
