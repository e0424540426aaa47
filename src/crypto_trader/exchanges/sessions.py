"""Opening the door for one command: with a stored key, or public only."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from crypto_trader.errors import InputError
from crypto_trader.exchange_ids import check_exchange
from crypto_trader.exchanges.door import Credentials, DoorSettings, ExchangeDoor
from crypto_trader.installation import Installation


def door_settings(installation: Installation, sandbox: bool) -> DoorSettings:
    """The door's settings from the installation's configuration."""
    extra = str(installation.settings.get("exchange.extra_ca_file"))
    return DoorSettings(sandbox=sandbox, extra_ca_file=Path(extra) if extra else None)


def open_keyed_door(
    installation: Installation,
    label: str,
    sandbox: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> ExchangeDoor:
    """A door for the exchange of the key labelled `label`, with its material."""
    record, material = installation.vault.open(label)
    credentials = Credentials(record.label, material, installation.gate)
    return ExchangeDoor(
        record.exchange, door_settings(installation, sandbox), credentials, sleep
    )


def open_public_door(
    installation: Installation,
    exchange: str,
    sandbox: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> ExchangeDoor:
    """A door with no key: public market data only."""
    return ExchangeDoor(
        check_exchange(exchange), door_settings(installation, sandbox), None, sleep
    )


def check_key_exchange(installation: Installation, label: str, exchange: str) -> None:
    """Refuse a --key whose exchange is not the one asked for."""
    record = installation.vault.get(label)
    if record.exchange != check_exchange(exchange):
        raise InputError(
            f"key {record.label!r} is for {record.exchange}, not {exchange}; "
            "pass a key for the same exchange"
        )
