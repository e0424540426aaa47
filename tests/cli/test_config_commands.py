"""`config show|get|set`: dotted names, validated values, audited changes."""

from __future__ import annotations

import json

import pytest

from crypto_trader.home import Home
from tests.support.cli import CliRunner


def config_changes(cli: CliRunner) -> list[dict[str, object]]:
    shown = cli("audit", "show", "--type", "configuration_changed", "--json")
    assert shown.code == 0, shown.err
    return [record["details"] for record in json.loads(shown.out)]


def test_show_json_maps_dotted_names_to_values(cli: CliRunner) -> None:
    shown = cli("config", "show", "--json")

    assert shown.code == 0
    assert json.loads(shown.out) == {
        "exchange.extra_ca_file": "",
        "logging.level": "INFO",
        "risk.max_daily_loss_pct": 0.0,
        "risk.max_open_orders": 0,
        "risk.max_position_value": 0.0,
        "risk.stop_loss_pct": 0.0,
        "risk.take_profit_pct": 0.0,
        "security.key_max_age_days": 90,
        "trade.poll_seconds": 0.0,
    }


def test_show_as_a_table_explains_each_setting(cli: CliRunner) -> None:
    shown = cli("config", "show")

    assert shown.code == 0
    assert "security.key_max_age_days" in shown.out
    assert "rotate" in shown.out


def test_set_and_get_round_trip_with_an_audit_record(cli: CliRunner) -> None:
    changed = cli("config", "set", "security.key_max_age_days", "30")

    assert changed.code == 0, changed.err
    assert changed.out == "security.key_max_age_days: 90 -> 30\n"
    assert cli("config", "get", "security.key_max_age_days").out == "30\n"
    assert (
        json.loads(cli("config", "show", "--json").out)["security.key_max_age_days"]
        == 30
    )
    assert cli("config", "set", "logging.level", "warning").code == 0
    assert config_changes(cli) == [
        {"setting": "security.key_max_age_days", "old": 90, "new": 30},
        {"setting": "logging.level", "old": "INFO", "new": "WARNING"},
    ]
    assert cli("audit", "verify").code == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("security.key_max_age_days", "0"),
        ("security.key_max_age_days", "ninety"),
        ("security.key_max_age_days", "-5"),
        ("logging.level", "chatty"),
        ("security.key_max_age", "30"),
        ("api.secret", "30"),
    ],
)
def test_unknown_names_and_bad_values_change_nothing(
    cli: CliRunner, home: Home, name: str, value: str
) -> None:
    assert cli("config", "set", "security.key_max_age_days", "45").code == 0

    refused = cli("config", "set", "--", name, value)

    assert refused.code == 2
    assert refused.err.startswith(f"error: {name}: expected") or (
        refused.err.startswith(f"error: unknown setting {name!r}")
    )
    assert cli("config", "get", "security.key_max_age_days").out == "45\n"
    assert len(config_changes(cli)) == 1


def test_a_refused_value_on_a_new_home_makes_no_master_key(
    cli: CliRunner, home: Home
) -> None:
    refused = cli("config", "set", "security.key_max_age_days", "never")

    assert refused.code == 2
    assert not home.master_key_file.exists()


def test_get_of_an_unknown_name_is_a_usage_error(cli: CliRunner) -> None:
    refused = cli("config", "get", "no.such.setting")

    assert refused.code == 2
    assert refused.err == (
        "error: unknown setting 'no.such.setting'; `crypto-trader config show` "
        "lists them all\n"
    )
