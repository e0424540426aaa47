"""Crypto Trader: local-first crypto trading with encrypted exchange keys."""

from __future__ import annotations

__version__ = "0.1.0"
