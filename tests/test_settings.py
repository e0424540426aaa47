"""Settings: defaults, validation, storage, and an audit record for each change."""

from __future__ import annotations

import pytest

from crypto_trader.audit.events import EventType
from crypto_trader.errors import InputError
from crypto_trader.installation import Installation
from crypto_trader.settings import SETTINGS


def changes(installation: Installation) -> list[dict[str, object]]:
    records = installation.audit.records(EventType.CONFIGURATION_CHANGED.value)
    return [r.details for r in records]


def test_defaults(installation: Installation) -> None:
    assert installation.settings.all() == {
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
    assert set(SETTINGS) == set(installation.settings.all())


def test_a_value_round_trips_and_is_audited(installation: Installation) -> None:
    settings = installation.settings

    assert settings.set("security.key_max_age_days", " 30 ") == (90, 30)
    assert settings.set("logging.level", "debug") == ("INFO", "DEBUG")
    assert settings.set("security.key_max_age_days", "45") == (30, 45)

    assert settings.get("security.key_max_age_days") == 45
    assert settings.get("logging.level") == "DEBUG"
    assert changes(installation) == [
        {"setting": "security.key_max_age_days", "old": 90, "new": 30},
        {"setting": "logging.level", "old": "INFO", "new": "DEBUG"},
        {"setting": "security.key_max_age_days", "old": 30, "new": 45},
    ]


def test_values_survive_reopening(installation: Installation) -> None:
    installation.settings.set("security.key_max_age_days", "7")
    installation.close()

    reopened = Installation.open(
        installation.home, lambda new: pytest.fail("no passphrase needed")
    )
    try:
        assert reopened.settings.get("security.key_max_age_days") == 7
    finally:
        reopened.close()


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("security.key_max_age_days", "0", "from 1 to 3650"),
        ("security.key_max_age_days", "3651", "from 1 to 3650"),
        ("security.key_max_age_days", "1.5", "whole number"),
        ("security.key_max_age_days", "", "whole number"),
        ("security.key_max_age_days", "9" * 5000, "whole number"),
        ("logging.level", "LOUD", "DEBUG, INFO, WARNING, ERROR"),
        ("logging.level", "INFO; DROP TABLE settings", "one of"),
        ("security.max_age", "30", "unknown setting"),
        ("", "30", "unknown setting"),
    ],
)
def test_bad_names_and_values_are_refused_and_change_nothing(
    installation: Installation, name: str, text: str, message: str
) -> None:
    installation.settings.set("security.key_max_age_days", "60")

    with pytest.raises(InputError, match=message) as refused:
        installation.settings.set(name, text)

    assert installation.settings.get("security.key_max_age_days") == 60
    assert installation.settings.get("logging.level") == "INFO"
    assert len(changes(installation)) == 1
    assert len(str(refused.value)) < 200


def test_an_unknown_name_suggests_the_nearest_and_where_to_see_all(
    installation: Installation,
) -> None:
    with pytest.raises(InputError) as misspelt:
        installation.settings.get("risk.max_daily_los_pct")
    with pytest.raises(InputError) as unknown:
        installation.settings.get("zzz")

    assert "did you mean risk.max_daily_loss_pct?" in str(misspelt.value)
    assert "did you mean" not in str(unknown.value)
    assert "`crypto-trader config show` lists them all" in str(unknown.value)


def test_check_validates_without_storing(installation: Installation) -> None:
    assert installation.settings.check("security.key_max_age_days", "12") == 12

    assert installation.settings.get("security.key_max_age_days") == 90
    assert changes(installation) == []
