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
    # 4: trading sessions: the account of each symbol, every order and every fill.
    """
    CREATE TABLE trade_sessions (
        id                INTEGER PRIMARY KEY,
        created_at        TEXT NOT NULL,
        updated_at        TEXT NOT NULL,
        fingerprint       TEXT NOT NULL,
        spec              TEXT NOT NULL,
        state             TEXT NOT NULL,
        halt_reason       TEXT,
        halted_day        TEXT,
        last_refusal      TEXT,
        control           TEXT,
        cursor_ms         INTEGER,
        day               TEXT,
        day_start_equity  REAL
    ) STRICT;

    CREATE TABLE trade_sleeves (
        session_id     INTEGER NOT NULL REFERENCES trade_sessions (id),
        symbol         TEXT NOT NULL,
        cash           REAL NOT NULL,
        amount         REAL NOT NULL,
        entry_price    REAL NOT NULL,
        entry_fee      REAL NOT NULL,
        stop           REAL NOT NULL,
        target         REAL NOT NULL,
        peak           REAL NOT NULL,
        watch_from_ms  INTEGER NOT NULL,
        realized_pnl   REAL NOT NULL,
        fees           REAL NOT NULL,
        trades         INTEGER NOT NULL,
        last_price     REAL,
        last_time_ms   INTEGER,
        PRIMARY KEY (session_id, symbol)
    ) STRICT;

    CREATE TABLE trade_orders (
        client_id      TEXT PRIMARY KEY,
        session_id     INTEGER NOT NULL REFERENCES trade_sessions (id),
        symbol         TEXT NOT NULL,
        side           TEXT NOT NULL,
        type           TEXT NOT NULL,
        amount         REAL,
        price          REAL,
        reason         TEXT NOT NULL,
        candle_ms      INTEGER NOT NULL,
        state          TEXT NOT NULL,
        exchange_id    TEXT,
        filled         REAL NOT NULL,
        cost           REAL NOT NULL,
        fee            REAL NOT NULL,
        note           TEXT,
        created_at     TEXT NOT NULL,
        updated_at     TEXT NOT NULL
    ) STRICT;

    CREATE INDEX trade_orders_session ON trade_orders (session_id, state);

    CREATE TABLE trade_fills (
        id          INTEGER PRIMARY KEY,
        session_id  INTEGER NOT NULL REFERENCES trade_sessions (id),
        client_id   TEXT NOT NULL REFERENCES trade_orders (client_id),
        symbol      TEXT NOT NULL,
        side        TEXT NOT NULL,
        amount      REAL NOT NULL,
        price       REAL NOT NULL,
        fee         REAL NOT NULL,
        candle_ms   INTEGER NOT NULL,
        reason      TEXT NOT NULL,
        created_at  TEXT NOT NULL
    ) STRICT;

    CREATE INDEX trade_fills_session ON trade_fills (session_id, id);
    """,
)
