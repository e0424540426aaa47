"""The SQLite database: one file in the home, WAL mode, migrated on open."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from crypto_trader.errors import ConfigurationError, CryptoTraderError
from crypto_trader.secure_fs import FILE_MODE, touch_private
from crypto_trader.storage.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 15_000


class Database:
    """A connection to the installation's database, with explicit transactions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        touch_private(path)
        try:
            self.connection = sqlite3.connect(
                path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot open database {path}: {exc}") from exc
        self._configure()
        self._migrate()
        self._restrict_sidecars()

    def _configure(self) -> None:
        conn = self.connection
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a committed audit record survives a power cut, not only a kill.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        # Deleted and overwritten content is zeroed, so an old ciphertext does not
        # linger in free pages after a key is removed or the master key rotated.
        conn.execute("PRAGMA secure_delete = ON")

    def _migrate(self) -> None:
        with self.write():
            version = self.connection.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise ConfigurationError(
                    f"{self.path} was written by a newer Crypto Trader "
                    f"(schema {version}); upgrade crypto-trader"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _statements(script):
                    self.connection.execute(statement)
                self.connection.execute(f"PRAGMA user_version = {number}")

    def _restrict_sidecars(self) -> None:
        for suffix in ("-wal", "-shm"):
            sidecar = self.path.with_name(self.path.name + suffix)
            with contextlib.suppress(FileNotFoundError):
                sidecar.chmod(FILE_MODE)

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """Run a write transaction that holds the write lock from the start."""
        conn = self.connection
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def get_meta(self, name: str) -> str | None:
        """Read one installation fact (install id, master key fingerprint, ...)."""
        row = self.connection.execute(
            "SELECT value FROM meta WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def set_meta(conn: sqlite3.Connection, name: str, value: str) -> None:
        """Write one installation fact inside the caller's transaction."""
        conn.execute(
            "INSERT INTO meta (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def scrub(self) -> None:
        """Drop old page images: checkpoint the WAL to zero length and vacuum."""
        self._checkpoint()
        self.connection.execute("VACUUM")
        self._checkpoint()

    def _checkpoint(self) -> None:
        for _ in range(50):
            busy, _, _ = self.connection.execute(
                "PRAGMA wal_checkpoint(TRUNCATE)"
            ).fetchone()
            if not busy:
                return
            time.sleep(0.1)
        raise CryptoTraderError(
            "another process keeps the database busy; close it and try again"
        )

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
