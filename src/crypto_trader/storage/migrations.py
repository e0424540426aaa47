"""Versioned schema migrations, applied in order, each in its own transaction."""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the security core.
    """
    CREATE TABLE meta (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;

    CREATE TABLE api_keys (
        id            TEXT PRIMARY KEY,
        label         TEXT NOT NULL,
        label_key     TEXT NOT NULL UNIQUE,
        exchange      TEXT NOT NULL,
        permission    TEXT NOT NULL,
        api_key_hint  TEXT NOT NULL,
        ciphertext    TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        mac           TEXT NOT NULL
    ) STRICT;

    CREATE TABLE audit_log (
        seq         INTEGER PRIMARY KEY,
        timestamp   TEXT NOT NULL,
        event_type  TEXT NOT NULL,
        user_id     TEXT NOT NULL,
        details     TEXT NOT NULL,
        prev_hash   TEXT NOT NULL,
        hash        TEXT NOT NULL
    ) STRICT;

    CREATE TABLE settings (
        name   TEXT PRIMARY KEY,
        value  TEXT NOT NULL
    ) STRICT;
    """,
    # 2: the last check of each key's rights on its exchange.
    """
    CREATE TABLE key_checks (
        key_id      TEXT PRIMARY KEY REFERENCES api_keys (id) ON DELETE CASCADE,
        checked_at  TEXT NOT NULL,
        status      TEXT NOT NULL,
        result      TEXT NOT NULL
    ) STRICT;
    """,
    # 3: past backtests: what ran on which candles, and what it achieved.
    """
    CREATE TABLE backtest_runs (
        id          INTEGER PRIMARY KEY,
        created_at  TEXT NOT NULL,
        strategy    TEXT NOT NULL,
        params      TEXT NOT NULL,
        exchange    TEXT NOT NULL,
        symbol      TEXT NOT NULL,
        timeframe   TEXT NOT NULL,
        start       TEXT NOT NULL,
        "end"       TEXT NOT NULL,
        config      TEXT NOT NULL,
        metrics     TEXT NOT NULL,
        report      TEXT
    ) STRICT;

    CREATE INDEX backtest_runs_created ON backtest_runs (created_at, id);
    """,
)
