"""What a key may really do on the exchange, read from the exchange itself."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from crypto_trader.exchanges.door import ExchangeDoor


@dataclass(frozen=True, slots=True)
class KeyRights:
    """A key's rights as the exchange reports them; None where it does not say."""

    can_read: bool | None
    can_trade: bool | None
    can_withdraw: bool | None
    can_transfer: bool | None
    ip_restricted: bool | None

    @property
    def moves_funds(self) -> bool:
        """Whether the key could take funds off the account."""
        return bool(self.can_withdraw or self.can_transfer)

    def as_dict(self) -> dict[str, Any]:
        """For the audit log and reports."""
        return asdict(self)


def read_key_rights(door: ExchangeDoor) -> KeyRights | None:
    """Ask the exchange about the key; None when it offers no way to."""
    exchange = door.exchange_id
    if exchange.startswith("binance"):
        return _binance(door)
    if exchange == "coinbase":
        return _coinbase(door)
    return None


def _binance(door: ExchangeDoor) -> KeyRights:
    answer = door.read("api restrictions", lambda c: c.sapiGetAccountApiRestrictions())
    return KeyRights(
        can_read=_flag(answer, "enableReading"),
        can_trade=_flag(answer, "enableSpotAndMarginTrading"),
        can_withdraw=_flag(answer, "enableWithdrawals"),
        can_transfer=_any_flag(
            answer, "enableInternalTransfer", "permitsUniversalTransfer"
        ),
        ip_restricted=_flag(answer, "ipRestrict"),
    )


def _coinbase(door: ExchangeDoor) -> KeyRights:
    answer = door.read(
        "key permissions", lambda c: c.v3PrivateGetBrokerageKeyPermissions()
    )
    return KeyRights(
        can_read=_flag(answer, "can_view"),
        can_trade=_flag(answer, "can_trade"),
        can_withdraw=_flag(answer, "can_transfer"),
        can_transfer=_flag(answer, "can_transfer"),
        ip_restricted=None,
    )


def _flag(answer: Any, name: str) -> bool | None:
    value = answer.get(name) if isinstance(answer, dict) else None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _any_flag(answer: Any, *names: str) -> bool | None:
    values = [_flag(answer, name) for name in names]
    known = [v for v in values if v is not None]
    return any(known) if known else None
