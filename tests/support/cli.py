"""Running the command line in-process (fast) or as a real child process."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from crypto_trader.cli.main import main

STARTUP_HOOKS = Path(__file__).parent / "startup"
REPO_ROOT = Path(__file__).parents[2]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished command: exit status and what it printed."""

    code: int
    out: str
    err: str


class CliRunner:
    """Runs `crypto-trader` in this process with a given stdin, capturing output."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        self._monkeypatch = monkeypatch
        self._tmp = tmp_path

    def __call__(self, *args: str, stdin: str = "") -> Outcome:
        out, err = io.StringIO(), io.StringIO()
        old_umask = os.umask(0o022)
        os.umask(old_umask)
        with self._monkeypatch.context() as patch:
            patch.setattr(sys, "stdin", io.StringIO(stdin))
            patch.setattr(sys, "stdout", out)
            patch.setattr(sys, "stderr", err)
            _point_consoles_at(patch, out, err)
            try:
                code = main(list(args))
            finally:
                os.umask(old_umask)
        return Outcome(code, out.getvalue(), err.getvalue())


def _point_consoles_at(
    patch: pytest.MonkeyPatch, out: io.StringIO, err: io.StringIO
) -> None:
    from rich.console import Console

    from crypto_trader.cli import context

    patch.setattr(context.console, "file", out)
    patch.setattr(context.errors, "file", err)
    assert isinstance(context.console, Console)


def child_env(**overrides: str) -> dict[str, str]:
    """The environment for a child process, with the test start-up hooks enabled."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(STARTUP_HOOKS), str(REPO_ROOT / "src")])
    env["CRYPTO_TRADER_TEST_HOOKS"] = "1"
    env.update(overrides)
    return env


def run_process(
    *args: str, env: dict[str, str], stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python -m crypto_trader ARGS` as a child process."""
    return subprocess.run(
        [sys.executable, "-m", "crypto_trader", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
