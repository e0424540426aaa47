"""Deterministic JSON, for anything that is hashed or authenticated."""

from __future__ import annotations

import json


def canonical_json(value: object) -> str:
    """JSON with sorted keys, no spaces, every non-ASCII character escaped."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
