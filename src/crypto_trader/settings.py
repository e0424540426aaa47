"""Named settings: defaults, validation, storage in the database, audited changes."""

from __future__ import annotations

import difflib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crypto_trader.audit.audit_log import AuditLog
from crypto_trader.audit.events import EventType
from crypto_trader.errors import InputError


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise InputError(f"expected a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise InputError(f"expected a whole number from {low} to {high}")
        return value

    return parse


def _non_negative(high: float = 1e15, inclusive: bool = True) -> Callable[[str], float]:
    bound = f"from 0 to {high:g}" if inclusive else f"from 0 to below {high:g}"

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise InputError(f"expected a number {bound}") from None
        inside = value <= high if inclusive else value < high
        if not (value >= 0 and inside):  # written so that NaN is refused
            raise InputError(f"expected a number {bound}")
        return value

    return parse


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().upper()
        if value not in options:
            raise InputError(f"expected one of {', '.join(options)}")
        return value

    return parse


def _ca_file(text: str) -> str:
    value = text.strip()
    if not value:
        return ""
    path = Path(value).expanduser()
    if not path.is_absolute() or not path.is_file():
        raise InputError("expected the absolute path of a PEM certificate file, or ''")
    if b"-----BEGIN CERTIFICATE-----" not in path.read_bytes()[:1_000_000]:
        raise InputError("expected a PEM certificate (-----BEGIN CERTIFICATE-----)")
    return str(path)


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its default, how a value is read, and what it means."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    description: str


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "security.key_max_age_days",
            90,
            _bounded_int(1, 3650),
            "days after which security-report asks you to rotate an API key",
        ),
        Setting(
            "logging.level",
            "INFO",
            _choice("DEBUG", "INFO", "WARNING", "ERROR"),
            "the level of the diagnostic log in logs/",
        ),
        Setting(
            "risk.max_position_value",
            0.0,
            _non_negative(),
            "most quote value one symbol's position may reach by an entry; 0 = off",
        ),
        Setting(
            "risk.max_open_orders",
            0,
            _bounded_int(0, 1000),
            "most orders a trading session may have open for entries; 0 = off",
        ),
        Setting(
            "risk.max_daily_loss_pct",
            0.0,
            _non_negative(100.0),
            "percent of the day's starting equity whose loss halts trading; 0 = off",
        ),
        Setting(
            "risk.stop_loss_pct",
            0.0,
            _non_negative(100.0, inclusive=False),
            "stop-loss below the entry price in percent, over the strategy's; 0 = off",
        ),
        Setting(
            "risk.take_profit_pct",
            0.0,
            _non_negative(),
            "take-profit above the entry in percent, over the strategy's; 0 = off",
        ),
        Setting(
            "trade.poll_seconds",
            0.0,
            _non_negative(3600.0),
            "seconds between a live session's polls of the exchange; 0 = automatic",
        ),
        Setting(
            "exchange.extra_ca_file",
            "",
            _ca_file,
            "a PEM CA certificate trusted besides the public roots (corporate proxy)",
        ),
    )
}


def _setting(name: str) -> Setting:
    try:
        return SETTINGS[name]
    except KeyError:
        near = difflib.get_close_matches(name, SETTINGS, n=1)
        hint = f"did you mean {near[0]}? " if near else ""
        raise InputError(
            f"unknown setting {name[:64]!r}; {hint}`crypto-trader config show` "
            "lists them all"
        ) from None


class Settings:
    """Reads and writes settings; every change writes CONFIGURATION_CHANGED."""

    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit
        self._db = audit.db

    def get(self, name: str) -> Any:
        """The value of a setting, or its default."""
        return self._read(self._db.connection, name)

    @staticmethod
    def _read(conn: sqlite3.Connection, name: str) -> Any:
        setting = _setting(name)
        row = conn.execute(
            "SELECT value FROM settings WHERE name = ?", (name,)
        ).fetchone()
        return setting.default if row is None else setting.parse(row[0])

    def all(self) -> dict[str, Any]:
        """Every setting by dotted name."""
        return {name: self.get(name) for name in sorted(SETTINGS)}

    @staticmethod
    def check(name: str, text: str) -> Any:
        """The value `text` gives setting `name`; refuses unknown names, bad values."""
        setting = _setting(name)
        try:
            return setting.parse(text)
        except InputError as exc:
            raise InputError(f"{name}: {exc}; got {text[:40]!r}") from None

    def set(self, name: str, text: str) -> tuple[Any, Any]:
        """Validate and store a value; returns the old and new values."""
        value = self.check(name, text)
        with self._audit.recording(EventType.CONFIGURATION_CHANGED) as rec:
            # Read inside the write transaction, so the record names the value replaced.
            old = self._read(rec.conn, name)
            rec.details |= {"setting": name, "old": old, "new": value}
            rec.conn.execute(
                "INSERT INTO settings (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, str(value)),
            )
        return old, value
