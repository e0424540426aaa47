"""The home directory: chosen by --home or CRYPTO_TRADER_HOME, created on first use."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from crypto_trader.errors import ConfigurationError
from crypto_trader.home import HOME_VARIABLE, Home, resolve_home
from tests.support.cli import CliRunner

KEY = json.dumps({"api_key": "AKIAEXAMPLEKEY12345678", "secret": "s3cret-value"})


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_option_wins_over_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(HOME_VARIABLE, str(tmp_path / "from-env"))

    assert resolve_home(str(tmp_path / "from-option")).root == tmp_path / "from-option"
    assert resolve_home(None).root == tmp_path / "from-env"


def test_without_either_the_home_is_in_the_user_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))

    assert resolve_home(None).root == tmp_path / "data" / "crypto-trader"


def test_relative_and_tilde_paths_become_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "me"))

    assert resolve_home("relative").root == tmp_path / "relative"
    assert resolve_home("~/ct").root == tmp_path / "me" / "ct"


def test_ensure_creates_private_folders(tmp_path: Path) -> None:
    home = Home(tmp_path / "a" / "b").ensure()

    assert mode(home.root) == 0o700
    assert mode(home.logs) == 0o700


@pytest.mark.parametrize("make", ["file", "symlink"])
def test_a_home_that_is_not_a_folder_is_refused(tmp_path: Path, make: str) -> None:
    target = tmp_path / "home"
    if make == "file":
        target.write_text("")
    else:
        (tmp_path / "elsewhere").mkdir()
        target.symlink_to(tmp_path / "elsewhere")

    with pytest.raises(ConfigurationError, match="is not a directory"):
        Home(target).ensure()


def test_the_command_line_refuses_a_file_as_home(
    cli: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "a-file"
    target.write_text("")

    outcome = cli("--home", str(target), "init")

    assert outcome.code == 1
    assert outcome.err == f"error: {target} is not a directory; move it away\n"


def test_the_variable_is_honoured(cli: CliRunner, home: Home) -> None:
    assert not home.root.exists()

    outcome = cli("init")

    assert outcome.code == 0
    assert outcome.out == f"home ready at {home.root}\n"
    assert home.database.is_file()


def test_the_option_is_honoured(cli: CliRunner, home: Home, tmp_path: Path) -> None:
    other = tmp_path / "other-home"

    add = ("keys", "add", "--exchange", "kraken", "--label", "k", "--stdin")

    added = cli("--home", str(other), *add, stdin=KEY)

    assert added.code == 0, added.err
    assert (other / "crypto_trader.db").is_file()
    assert not home.root.exists()
    listed = cli("--home", str(other), "keys", "list", "--json").out
    assert [k["label"] for k in json.loads(listed)] == ["k"]
    assert cli("keys", "list", "--json").out == "[]\n"


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "list"),
        ("keys", "verify"),
        ("audit", "show", "--json"),
        ("audit", "verify"),
        ("audit", "export"),
        ("config", "show"),
        ("config", "get", "security.key_max_age_days"),
        ("security-report", "--json"),
    ],
)
def test_every_command_creates_the_home_on_first_use(
    cli: CliRunner, home: Home, args: tuple[str, ...]
) -> None:
    outcome = cli(*args)

    assert outcome.code == 0, outcome.err
    assert mode(home.root) == 0o700
    assert mode(home.database) == 0o600
    assert (home.logs / "crypto-trader.log").is_file()


def test_init_is_idempotent(cli: CliRunner, home: Home) -> None:
    assert cli("init").code == 0
    added = cli(
        "keys", "add", "--exchange", "kraken", "--label", "k", "--stdin", stdin=KEY
    )
    assert added.code == 0
    before = cli("audit", "export").out
    key_file = home.master_key_file.read_bytes()

    again = cli("init")

    assert again.code == 0
    assert cli("audit", "export").out == before
    assert home.master_key_file.read_bytes() == key_file
    assert cli("keys", "verify").code == 0
    assert json.loads(cli("keys", "list", "--json").out)[0]["label"] == "k"
