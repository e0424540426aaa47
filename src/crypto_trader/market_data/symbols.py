"""Market symbols: `BASE/QUOTE` as ccxt writes them, and their folder names."""

from __future__ import annotations

import re
from dataclasses import dataclass

from crypto_trader.errors import InputError

# Letters and digits only: a currency code is never a path, so no dot, slash,
# dash or space can reach a file name built from it.
_CODE = re.compile(r"[A-Z0-9]{1,20}")
_MAX_SHOWN = 40


@dataclass(frozen=True, slots=True, order=True)
class Symbol:
    """A spot market: `base` bought and sold, priced in `quote`."""

    base: str
    quote: str

    def __post_init__(self) -> None:
        if not (_CODE.fullmatch(self.base) and _CODE.fullmatch(self.quote)):
            raise InputError(
                f"symbol {self.base[:_MAX_SHOWN]!r}/{self.quote[:_MAX_SHOWN]!r}: "
                "each code must be 1 to 20 upper-case letters or digits"
            )

    def __str__(self) -> str:
        return f"{self.base}/{self.quote}"

    @property
    def folder_name(self) -> str:
        """The folder that holds this market's series: `BASE-QUOTE`."""
        return f"{self.base}-{self.quote}"


def parse_symbol(text: str) -> Symbol:
    """Parse `BASE/QUOTE` (upper-cased, as ccxt's unified codes are)."""
    parts = text.strip().upper().split("/")
    if len(parts) != 2 or not all(_CODE.fullmatch(p) for p in parts):
        raise InputError(
            f"symbol {text[:_MAX_SHOWN]!r}: expected BASE/QUOTE such as BTC/USDT, "
            "each code 1 to 20 letters or digits"
        )
    return Symbol(parts[0], parts[1])


def symbol_from_folder(name: str) -> Symbol | None:
    """The symbol a `BASE-QUOTE` folder holds, or None for any other name."""
    base, dash, quote = name.partition("-")
    if not dash or not (_CODE.fullmatch(base) and _CODE.fullmatch(quote)):
        return None
    return Symbol(base, quote)
