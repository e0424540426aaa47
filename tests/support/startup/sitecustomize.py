"""Test-only start-up hook for the child processes tests start (PYTHONPATH points here).

It lowers the key-derivation floor so the suite stays fast, and can kill the process
with SIGKILL at a named point (CRYPTO_TRADER_TEST_KILL_AT=module:function[:n]) to prove
crash safety. The product has no such switch: this file is never installed.
"""

from __future__ import annotations

import importlib
import os
import signal
from typing import Any


def _lower_kdf_floor() -> None:
    from crypto_trader.vault.key_stores import file_store

    file_store.SCRYPT_MIN_LOG2_N = 10


def _install_kill_point(spec: str) -> None:
    module_name, function_name, *count = spec.split(":")
    remaining = [int(count[0]) if count else 1]
    owner_path, _, attribute = function_name.rpartition(".")
    module = importlib.import_module(module_name)
    owner: Any = module
    for part in filter(None, owner_path.split(".")):
        owner = getattr(owner, part)
    original = getattr(owner, attribute)

    def killer(*args: Any, **kwargs: Any) -> Any:
        remaining[0] -= 1
        if remaining[0] <= 0:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(owner, attribute, killer)


def _go_offline() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[3]))
    from tests.support import offline

    offline.install()


def _install_exchange_redirect() -> None:
    from tests.support.exchange_standins.redirect import install_from_environment

    install_from_environment()


if os.environ.get("CRYPTO_TRADER_TEST_HOOKS") == "1":
    _go_offline()
    if os.environ.get("CRYPTO_TRADER_TEST_EXCHANGE_REDIRECT"):
        _install_exchange_redirect()
    _lower_kdf_floor()
    _spec = os.environ.get("CRYPTO_TRADER_TEST_KILL_AT")
    if _spec:
        _install_kill_point(_spec)
