"""Persistence: the SQLite database (and, later, the Parquet candle store)."""
