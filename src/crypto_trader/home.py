"""The home directory: where every file of one installation lives."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from crypto_trader.secure_fs import ensure_private_dir

HOME_VARIABLE = "CRYPTO_TRADER_HOME"


@dataclass(frozen=True, slots=True)
class Home:
    """Paths of one installation's files under its home directory."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "crypto_trader.db"

    @property
    def master_key_file(self) -> Path:
        return self.root / "master.key"

    @property
    def audit_head(self) -> Path:
        return self.root / "audit.head"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def candles(self) -> Path:
        return self.root / "candles"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def custody_lock(self) -> Path:
        return self.root / ".master-key.lock"

    @property
    def audit_lock(self) -> Path:
        return self.root / ".audit.lock"

    def ensure(self) -> Home:
        """Create the home and its folders, all 0700."""
        ensure_private_dir(self.root)
        ensure_private_dir(self.logs)
        return self


def resolve_home(option: str | None) -> Home:
    """Pick the home: `--home`, then CRYPTO_TRADER_HOME, then the user data dir."""
    if option:
        return Home(Path(option).expanduser().absolute())
    from_env = os.environ.get(HOME_VARIABLE)
    if from_env:
        return Home(Path(from_env).expanduser().absolute())
    from platformdirs import user_data_dir

    return Home(Path(user_data_dir("crypto-trader", appauthor=False)))
